/**
 * The account lifecycle by email: address verification, password reset, magic-link sign-in and
 * email change. Every link carries a 256-bit random token of which only a SHA-256 hash is stored;
 * a token is bound to one purpose and to the address it was sent to, expires, and is spent by one
 * atomic update, so it works once however many requests race with it.
 */
import type { Clock } from '../clock.ts';
import { countLiveApiKeys, revokeUserApiKeys } from '../store/api-keys.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import {
  type EmailTokenRecord,
  findUsableEmailToken,
  spendEmailToken,
  spendUserEmailTokens,
} from '../store/email-tokens.ts';
import type { EmailTokenPurpose } from '../store/schema.ts';
import { revokeSessions } from '../store/sessions.ts';
import { markEmailVerified, setPasswordHash, type UserRecord } from '../store/users.ts';
import { claimAccount } from './account-claim.ts';
import { type AccountService, normalizeEmail } from './accounts.ts';
import { createEmailChange } from './email-change.ts';
import { type EmailFlowKit, emailKey } from './email-flow-kit.ts';
import { type EmailLinks, hashEmailToken } from './email-links.ts';
import { InvalidEmailTokenError } from './errors.ts';
import { createMagicLinks } from './magic-links.ts';
import { hashNewPassword } from './password-change.ts';
import type { PasswordHasher } from './passwords.ts';
import type { RateLimits } from './rate-limits.ts';
import { auditSource, type RequestContext } from './request-context.ts';
import type { RevocationState } from './revocation.ts';
import type { CookieLogin, SessionService, TokenPair } from './sessions.ts';

export type { EmailTokenPurpose } from '../store/schema.ts';

export interface ResetLinkInfo {
  /** API keys of the account that still work (a reset revokes them unless asked to keep them). */
  readonly apiKeys: number;
  /** The address was never verified: the reset claims the account and revokes every key anyway. */
  readonly claimsAccount: boolean;
}

/** The flows' own settings; where links point and how long they live is `EmailLinkOptions`. */
export interface EmailFlowOptions {
  readonly passwordMinLength: number;
  /** A magic link asked for an unknown address creates the account when used. */
  readonly magicLinkSignup: boolean;
  readonly registrationOpen: boolean;
}

export interface EmailFlowService {
  /** Queues a verification mail (nothing when already verified); limited per address. */
  requestVerification(userId: string, ctx: RequestContext): Promise<void>;
  /** Throws InvalidEmailTokenError (400 `Invalid or expired token`). */
  verifyEmail(token: string, ctx: RequestContext): Promise<void>;
  /** Never reveals whether an account has the address: the same work and answer either way. */
  requestPasswordReset(email: string, ctx: RequestContext): Promise<void>;
  /**
   * Applies the password policy first (a weak password does not spend the token). Ends every
   * session, spends every other emailed link and revokes the API keys unless `keepApiKeys`; on an
   * account whose address was never verified it is a claim (see account-claim.ts), keys included.
   */
  resetPassword(
    token: string,
    newPassword: string,
    ctx: RequestContext,
    options?: { keepApiKeys?: boolean },
  ): Promise<void>;
  /** For the reset page: undefined when the link is not usable now; nothing is spent. */
  describeResetLink(token: string): Promise<ResetLinkInfo | undefined>;
  /** Never reveals whether an account has the address. */
  requestMagicLink(email: string, ctx: RequestContext): Promise<void>;
  signInWithMagicLinkCookie(token: string, ctx: RequestContext): Promise<CookieLogin>;
  /** `requestedScope`: the grant's space-separated `scope`, narrowed to what the user holds. */
  signInWithMagicLinkTokens(
    token: string,
    requestedScope: string | undefined,
    clientId: string | undefined,
    ctx: RequestContext,
  ): Promise<TokenPair>;
  /** Sends a confirmation link to the new address and a notice to the old one. */
  requestEmailChange(userId: string, newEmail: string, ctx: RequestContext): Promise<void>;
  confirmEmailChange(token: string, ctx: RequestContext): Promise<void>;
  /** True if the token is usable now for `purpose`, without spending it (pages show "expired" early). */
  peekToken(token: string, purpose: EmailTokenPurpose): Promise<boolean>;
  /** Resolves when mail decided in the background (reset, magic link) has been queued. */
  settled(): Promise<void>;
}

export function createEmailFlowService(deps: {
  store: Store;
  accounts: AccountService;
  sessions: SessionService;
  hasher: PasswordHasher;
  revocation: RevocationState;
  rateLimits: RateLimits;
  links: EmailLinks;
  clock: Clock;
  onBackgroundError: (error: unknown) => void;
  options: EmailFlowOptions;
}): EmailFlowService {
  const { store, accounts, sessions, hasher, revocation, rateLimits, links, clock, options } = deps;
  const { enqueueTemplate, sendLink, sendVerification } = links;
  const db = store.db;
  const pending = new Set<Promise<void>>();

  /** Work whose duration must not show in the response (it would tell whether an account exists). */
  function inBackground(task: () => Promise<void>): void {
    const run = task().catch((error: unknown) => deps.onBackgroundError(error));
    pending.add(run);
    void run.finally(() => pending.delete(run));
  }

  /**
   * The usable token and its user. A token sent to an address the account no longer has is
   * refused: the link proved that old address, not the account's current one.
   */
  async function resolve(
    token: string,
    purpose: EmailTokenPurpose,
  ): Promise<{ hash: string; row: EmailTokenRecord; user: UserRecord | undefined }> {
    const hash = hashEmailToken(token);
    if (hash === undefined) throw new InvalidEmailTokenError('malformed');
    const row = await findUsableEmailToken(db, hash, purpose, clock.now());
    if (row === undefined) throw new InvalidEmailTokenError('unknown, spent, expired or other purpose');
    if (row.userId === null) return { hash, row, user: undefined };
    const user = await accounts.findUser(row.userId);
    if (user === undefined) throw new InvalidEmailTokenError('user gone');
    if (emailKey(user.email) !== emailKey(row.email)) throw new InvalidEmailTokenError('address changed');
    return { hash, row, user };
  }

  async function findByEmail(key: string): Promise<UserRecord | undefined> {
    // Usernames cannot contain "@", so an address only ever matches an email.
    const user = await accounts.findByLogin(key);
    return user !== undefined && emailKey(user.email) === key ? user : undefined;
  }

  const kit: EmailFlowKit = {
    store,
    db,
    clock,
    accounts,
    sessions,
    revocation,
    rateLimits,
    options,
    inBackground,
    enqueueTemplate,
    sendLink,
    resolve,
    findByEmail,
  };

  return {
    ...createMagicLinks(kit),
    ...createEmailChange(kit),

    async requestVerification(userId, ctx) {
      const user = await accounts.getUserOrThrow(userId);
      if (user.emailVerified) return;
      await rateLimits.consumeMailAddress(user.email, { userId: user.id });
      await sendVerification(user);
      await recordAuditEvent(db, {
        event: 'email.verification_requested',
        at: clock.now(),
        userId: user.id,
        ...auditSource(ctx),
      });
    },

    async verifyEmail(token, ctx) {
      const { hash, row, user } = await resolve(token, 'verify');
      if (user === undefined) throw new InvalidEmailTokenError('no user');
      const now = clock.now();
      const done = await db.transaction().execute(async (trx) => {
        if (!(await spendEmailToken(trx, hash, 'verify', now))) return false;
        if (!(await markEmailVerified(trx, user.id, emailKey(row.email), now))) {
          throw new InvalidEmailTokenError('address changed');
        }
        await recordAuditEvent(trx, {
          event: 'email.verified',
          at: now,
          userId: user.id,
          ...auditSource(ctx),
          details: { fields: ['email_verified'], method: 'email_link' },
        });
        return true;
      });
      if (!done) throw new InvalidEmailTokenError('spent');
      accounts.usersChanged([user.id]);
    },

    async requestPasswordReset(email, ctx) {
      const key = normalizeEmail(email).key;
      await rateLimits.consumeMailAddress(key, ctx);
      inBackground(async () => {
        const user = await findByEmail(key);
        if (user === undefined || user.disabled) return;
        await sendLink('reset', user.email, { userId: user.id, email: user.email }, user.username);
        await recordAuditEvent(db, {
          event: 'password.reset_requested',
          at: clock.now(),
          userId: user.id,
          ...auditSource(ctx),
        });
      });
    },

    async resetPassword(token, newPassword, ctx, resetOptions = {}) {
      const { hash, row, user } = await resolve(token, 'reset');
      if (user === undefined) throw new InvalidEmailTokenError('no user');
      const passwordHash = await hashNewPassword(hasher, user, newPassword, options.passwordMinLength);
      const now = clock.now();
      const revoked = await db.transaction().execute(async (trx) => {
        if (!(await spendEmailToken(trx, hash, 'reset', now))) return undefined;
        const claimed = await claimAccount(trx, {
          userId: user.id,
          emailNormalized: emailKey(row.email),
          method: 'password_reset',
          passwordHash,
          ctx,
          now,
        });
        await setPasswordHash(trx, user.id, passwordHash, now);
        // Every link mailed before (an email change an intruder started, too) stops working.
        const others = await spendUserEmailTokens(trx, user.id, 'every', now);
        await markEmailVerified(trx, user.id, emailKey(row.email), now);
        const ids = await revokeSessions(trx, { userId: user.id }, now, 'password reset');
        const keepApiKeys = resetOptions.keepApiKeys === true && claimed === undefined;
        const apiKeysRevoked = keepApiKeys ? 0 : await revokeUserApiKeys(trx, user.id, now);
        await recordAuditEvent(trx, {
          event: 'password.reset',
          at: now,
          userId: user.id,
          ...auditSource(ctx),
          details: {
            fields: user.emailVerified ? ['password'] : ['email_verified', 'password'],
            sessions_revoked: ids.length + (claimed?.revokedSessionIds.length ?? 0),
            other_links_spent: others,
            api_keys_revoked: apiKeysRevoked,
          },
        });
        return [...(claimed?.revokedSessionIds ?? []), ...ids];
      });
      if (revoked === undefined) throw new InvalidEmailTokenError('spent');
      accounts.usersChanged([user.id]);
      revocation.markSessionsRevoked(revoked, now);
    },

    async describeResetLink(token) {
      try {
        const { user } = await resolve(token, 'reset');
        if (user === undefined) return undefined;
        return {
          apiKeys: await countLiveApiKeys(db, user.id, clock.now()),
          claimsAccount: !user.emailVerified,
        };
      } catch (error) {
        if (error instanceof InvalidEmailTokenError) return undefined;
        throw error;
      }
    },

    async peekToken(token, purpose) {
      try {
        await resolve(token, purpose);
        return true;
      } catch (error) {
        if (error instanceof InvalidEmailTokenError) return false;
        throw error;
      }
    },

    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
