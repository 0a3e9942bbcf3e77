/** Magic links: request one by email, sign in by it (a cookie or tokens), sign up by it when allowed. */
import { randomBytes } from 'node:crypto';
import { recordAuditEvent } from '../store/audit.ts';
import { spendEmailToken } from '../store/email-tokens.ts';
import type { UserRecord } from '../store/users.ts';
import { claimAccount } from './account-claim.ts';
import { normalizeEmail } from './accounts.ts';
import { type EmailFlowKit, emailKey } from './email-flow-kit.ts';
import type { EmailFlowService } from './email-flows.ts';
import { EmailTakenError, InactiveUserError, InvalidEmailTokenError, UsernameTakenError } from './errors.ts';
import { auditSource, type RequestContext } from './request-context.ts';
import { randomSecret } from './secrets.ts';

/** A username for an account created by a magic link: the address's local part, made valid. */
function usernameFromEmail(email: string, attempt: number): string {
  const local = (email.split('@')[0] ?? 'user').normalize('NFKC').replace(/[^A-Za-z0-9_.-]/g, '_');
  const base = (local.length >= 3 ? local : `${local}user`).slice(0, 24);
  return attempt === 0 ? base : `${base}-${randomBytes(3).toString('hex')}`;
}

export function createMagicLinks(
  kit: EmailFlowKit,
): Pick<EmailFlowService, 'requestMagicLink' | 'signInWithMagicLinkCookie' | 'signInWithMagicLinkTokens'> {
  const {
    db,
    clock,
    accounts,
    sessions,
    revocation,
    rateLimits,
    options,
    resolve,
    sendLink,
    findByEmail,
    inBackground,
  } = kit;

  /** The user a magic link signs in, creating the account when the link allows it. */
  async function spendMagicLink(token: string, ctx: RequestContext): Promise<UserRecord> {
    const { hash, row, user } = await resolve(token, 'magic');
    if (user?.disabled) throw new InactiveUserError();
    const now = clock.now();
    if (!(await spendEmailToken(db, hash, 'magic', now))) throw new InvalidEmailTokenError('spent');
    let signedIn = user ?? (await findByEmail(emailKey(row.email)));
    if (signedIn === undefined) {
      if (!options.magicLinkSignup || !options.registrationOpen) {
        throw new InvalidEmailTokenError('sign-up no longer allowed');
      }
      signedIn = await createMagicLinkAccount(row.email, ctx);
    }
    if (signedIn.disabled) throw new InactiveUserError();
    if (!signedIn.emailVerified) {
      // The link reached the address, which nobody had proven: its owner takes the account over.
      const claimant = signedIn;
      const claimed = await db.transaction().execute((trx) =>
        claimAccount(trx, {
          userId: claimant.id,
          emailNormalized: emailKey(claimant.email),
          method: 'magic_link',
          passwordHash: null,
          ctx,
          now,
        }),
      );
      accounts.usersChanged([signedIn.id]);
      if (claimed) revocation.markSessionsRevoked(claimed.revokedSessionIds, now);
      signedIn = (await accounts.findUser(signedIn.id)) ?? signedIn;
    }
    return signedIn;
  }

  async function createMagicLinkAccount(email: string, ctx: RequestContext): Promise<UserRecord> {
    // Nobody knows this password; the person signs in by links until they set one by reset.
    const password = randomSecret();
    for (let attempt = 0; ; attempt++) {
      try {
        return await accounts.register(
          { username: usernameFromEmail(email, attempt), email, password, emailVerified: true },
          ctx,
          'magic_link',
        );
      } catch (error) {
        if (error instanceof UsernameTakenError && attempt < 4) continue;
        if (error instanceof EmailTakenError) {
          const existing = await findByEmail(emailKey(email));
          if (existing !== undefined) return existing;
        }
        throw error;
      }
    }
  }

  return {
    async requestMagicLink(email, ctx) {
      const address = normalizeEmail(email);
      await rateLimits.consumeMailAddress(address.key, ctx);
      inBackground(async () => {
        const user = await findByEmail(address.key);
        if (user?.disabled) return;
        if (user === undefined && !(options.magicLinkSignup && options.registrationOpen)) return;
        const to = user?.email ?? address.display;
        await sendLink(
          'magic',
          to,
          { userId: user?.id ?? null, email: to },
          user?.username ?? address.display,
        );
        await recordAuditEvent(db, {
          event: 'magic_link.requested',
          at: clock.now(),
          userId: user?.id ?? null,
          ...auditSource(ctx),
          details: { signup: user === undefined },
        });
      });
    },

    async signInWithMagicLinkCookie(token, ctx) {
      const user = await spendMagicLink(token, ctx);
      return sessions.startCookieSession(user, ctx, 'magic_link');
    },

    async signInWithMagicLinkTokens(token, requestedScope, clientId, ctx) {
      const user = await spendMagicLink(token, ctx);
      return sessions.startTokenSession(
        user,
        sessions.grantScope(user, requestedScope),
        clientId,
        ctx,
        'magic_link',
      );
    },
  };
}
