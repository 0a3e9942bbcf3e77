/**
 * Which user an external identity signs in, by the linking rules (docs/external-sign-in.md):
 * 1. an identity already linked signs in its user;
 * 2. an unlinked identity whose address the provider verified, from a provider trusted to verify
 *    addresses, links to the local account with that address — claiming it first, by
 *    `claimAccount`, when that account's own address was never verified;
 * 3. with no account of that address, a new passwordless account (while registration is open);
 * 4. an address the provider did not verify, or from a provider not trusted to, links to and
 *    claims nothing: the person signs in with the password and connects the provider afterwards.
 * With GATEHOUSE_REQUIRE_VERIFIED_EMAIL, the user signed in must have a verified address, or one
 * this provider vouches for now (trusted to, and verified): else EMAIL_NOT_VERIFIED.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { recordAuditEvent } from '../../store/audit.ts';
import type { Store } from '../../store/db.ts';
import { findIdentity, insertIdentity, touchIdentity } from '../../store/identities.ts';
import { deleteUser, type UserRecord } from '../../store/users.ts';
import { claimAccount } from '../account-claim.ts';
import { type AccountService, normalizeEmail } from '../accounts.ts';
import {
  EmailNotVerifiedError,
  EmailTakenError,
  ExternalAccountExistsError,
  ExternalSignInError,
  IdentityLinkedElsewhereError,
  InactiveUserError,
  RegistrationClosedError,
  UsernameTakenError,
} from '../errors.ts';
import { auditSource, type RequestContext } from '../request-context.ts';
import type { RevocationState } from '../revocation.ts';
import type { ExternalProfile } from './profile.ts';

export interface LinkingDeps {
  readonly store: Store;
  readonly accounts: AccountService;
  readonly revocation: RevocationState;
  readonly clock: Clock;
  readonly registrationOpen: boolean;
  readonly requireVerifiedEmail: boolean;
}

/** The provider's address in its normalized form, or null when it is none Gatehouse accepts. */
function addressOf(profile: ExternalProfile): { display: string; key: string } | null {
  if (profile.email === null) return null;
  try {
    return normalizeEmail(profile.email);
  } catch {
    return null;
  }
}

/** A valid, unused username from the provider's login name or the address's local part. */
function usernameCandidate(profile: ExternalProfile, attempt: number): string {
  const source = profile.usernameHint ?? profile.email?.split('@')[0] ?? profile.provider;
  const cleaned = source
    .normalize('NFKC')
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 24);
  const base = cleaned.length >= 3 ? cleaned : `${cleaned}user`.slice(0, 24);
  return attempt === 0 ? base : `${base}-${randomBytes(3).toString('hex')}`;
}

export function createLinking(deps: LinkingDeps) {
  const { store, accounts, revocation, clock } = deps;
  const db = store.db;

  function checkVerified(user: UserRecord, profile: ExternalProfile, trustEmail: boolean): UserRecord {
    if (!deps.requireVerifiedEmail || user.emailVerified) return user;
    const vouched =
      trustEmail && profile.emailVerified && addressOf(profile)?.key === user.email.toLowerCase();
    if (!vouched) throw new EmailNotVerifiedError();
    return user;
  }

  async function writeLink(
    executor: typeof db,
    userId: string,
    profile: ExternalProfile,
    how: 'automatic' | 'claimed' | 'signup' | 'manual',
    ctx: RequestContext,
  ): Promise<void> {
    const now = clock.now();
    const id = randomUUID();
    try {
      await insertIdentity(executor, {
        id,
        provider: profile.provider,
        subject: profile.subject,
        userId,
        email: profile.email,
        emailVerified: profile.emailVerified,
        createdAt: now,
        lastUsedAt: now,
      });
    } catch (error) {
      if (store.isUniqueViolation(error)) throw new IdentityLinkedElsewhereError();
      throw error;
    }
    await recordAuditEvent(executor, {
      event: 'identity.linked',
      at: now,
      userId,
      ...auditSource(ctx),
      target: id,
      details: { provider: profile.provider, how },
    });
  }

  async function createAccount(profile: ExternalProfile, trusted: boolean, ctx: RequestContext) {
    const address = addressOf(profile);
    if (address === null) throw new ExternalSignInError('the provider shared no usable email address');
    for (let attempt = 0; ; attempt++) {
      let user: UserRecord;
      try {
        user = await accounts.register(
          {
            username: usernameCandidate(profile, attempt),
            email: address.display,
            fullName: profile.fullName,
            password: null,
            emailVerified: trusted && profile.emailVerified,
          },
          ctx,
          'external',
        );
      } catch (error) {
        if (error instanceof UsernameTakenError && attempt < 4) continue;
        // The address was taken meanwhile: the rules run again and find the account.
        if (error instanceof EmailTakenError) throw new ExternalAccountExistsError();
        throw error;
      }
      try {
        await writeLink(db, user.id, profile, 'signup', ctx);
      } catch (error) {
        // Another request linked this identity first: the account just made has no way in.
        await deleteUser(db, user.id);
        throw error;
      }
      return user;
    }
  }

  return {
    /** The user this identity signs in, by rules 1–4; InactiveUserError for a disabled one. */
    async resolveSignIn(
      profile: ExternalProfile,
      trustEmail: boolean,
      ctx: RequestContext,
    ): Promise<UserRecord> {
      const linked = await findIdentity(db, profile.provider, profile.subject);
      if (linked !== undefined) {
        const user = await accounts.findUser(linked.userId);
        if (user === undefined) throw new ExternalSignInError('linked user is gone');
        if (user.disabled) throw new InactiveUserError();
        await touchIdentity(db, linked.id, profile, clock.now());
        return checkVerified(user, profile, trustEmail);
      }
      const address = addressOf(profile);
      const local =
        address === null
          ? undefined
          : await accounts
              .findByLogin(address.key)
              .then((user) =>
                user !== undefined && user.email.toLowerCase() === address.key ? user : undefined,
              );
      if (local === undefined) {
        if (!deps.registrationOpen) throw new RegistrationClosedError();
        return checkVerified(await createAccount(profile, trustEmail, ctx), profile, trustEmail);
      }
      // Rule 4: only an address the provider verified, from a provider trusted to verify it.
      if (!trustEmail || !profile.emailVerified || address === null) throw new ExternalAccountExistsError();
      if (local.disabled) throw new InactiveUserError();
      if (local.emailVerified) {
        await db.transaction().execute((trx) => writeLink(trx, local.id, profile, 'automatic', ctx));
        return local;
      }
      // The mailbox's owner, proven by the provider, takes over an account someone registered
      // with their address (pre-account hijacking): the registrant's credentials all end.
      const now = clock.now();
      const claimed = await db.transaction().execute(async (trx) => {
        const result = await claimAccount(trx, {
          userId: local.id,
          emailNormalized: address.key,
          method: `external:${profile.provider}`,
          passwordHash: null,
          ctx,
          now,
        });
        if (result === undefined) throw new ExternalSignInError('account changed during the claim');
        await writeLink(trx, local.id, profile, 'claimed', ctx);
        return result;
      });
      accounts.usersChanged([local.id]);
      revocation.markSessionsRevoked(claimed.revokedSessionIds, now);
      return (await accounts.findUser(local.id)) ?? local;
    },

    /** Links the identity to a signed-in user who asked for it (rules about addresses do not apply). */
    async linkToUser(userId: string, profile: ExternalProfile, ctx: RequestContext): Promise<void> {
      const linked = await findIdentity(db, profile.provider, profile.subject);
      if (linked !== undefined) {
        if (linked.userId !== userId) throw new IdentityLinkedElsewhereError();
        await touchIdentity(db, linked.id, profile, clock.now());
        return;
      }
      await db.transaction().execute((trx) => writeLink(trx, userId, profile, 'manual', ctx));
    },
  };
}

export type Linking = ReturnType<typeof createLinking>;
