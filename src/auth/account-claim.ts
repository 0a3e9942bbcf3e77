/**
 * Claiming an account by its mailbox, the defence against pre-account hijacking: someone may
 * register an address they do not own, with their own password, and wait for its owner. When the
 * owner of the mailbox proves it for an account whose address was never verified — by a link
 * mailed to it (magic link, password reset), or later by an external identity provider — by any
 * means other than the account's own password session, the mailbox owner becomes the account's
 * owner and every credential the registrant held ends: sessions (and so their refresh tokens),
 * API keys, the password and every other outstanding emailed link.
 */
import type { Kysely } from 'kysely';
import { revokeUserApiKeys } from '../store/api-keys.ts';
import { recordAuditEvent } from '../store/audit.ts';
import { spendUserEmailTokens } from '../store/email-tokens.ts';
import type { Database } from '../store/schema.ts';
import { revokeSessions } from '../store/sessions.ts';
import { claimUnverifiedEmail } from '../store/users.ts';
import { auditSource, type RequestContext } from './request-context.ts';

export interface AccountClaim {
  readonly userId: string;
  /** The address the proof was for (normalized): the claim applies only while the account has it. */
  readonly emailNormalized: string;
  /** How the mailbox was proven, for the audit event: `magic_link`, `password_reset`, `oidc:<issuer>`. */
  readonly method: string;
  /** The account's password afterwards: null (the owner sets one by reset), or a reset's new one. */
  readonly passwordHash: string | null;
  readonly ctx: RequestContext;
  readonly now: number;
}

/**
 * Inside `trx`: when the account still has the address and it is not verified, marks it verified,
 * replaces the password, revokes every session and API key, spends every emailed link and writes
 * `account.claimed`. Returns the revoked session ids (to mark revoked in memory once committed),
 * or undefined when there was nothing to claim (the address was verified or changed meanwhile).
 */
export async function claimAccount(
  trx: Kysely<Database>,
  claim: AccountClaim,
): Promise<{ revokedSessionIds: string[] } | undefined> {
  const { userId, now } = claim;
  // One conditional update decides: of two claims racing, only one finds the address unverified.
  if (!(await claimUnverifiedEmail(trx, userId, claim.emailNormalized, claim.passwordHash, now)))
    return undefined;
  const revokedSessionIds = await revokeSessions(trx, { userId }, now, 'account claimed');
  const apiKeysRevoked = await revokeUserApiKeys(trx, userId, now);
  const linksSpent = await spendUserEmailTokens(trx, userId, 'every', now);
  await recordAuditEvent(trx, {
    event: 'account.claimed',
    at: now,
    userId,
    ...auditSource(claim.ctx),
    details: {
      fields: claim.passwordHash === null ? ['email_verified', 'password'] : ['email_verified'],
      method: claim.method,
      sessions_revoked: revokedSessionIds.length,
      api_keys_revoked: apiKeysRevoked,
      links_spent: linksSpent,
      password_removed: claim.passwordHash === null,
    },
  });
  return { revokedSessionIds };
}
