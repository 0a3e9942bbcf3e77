/**
 * Step-up (RFC 9470): a signed-in user proves the password (or a passkey) again in a live session,
 * which renews its `auth_time`; a token session also gets a new refresh token of the same grant.
 */
import { recordAuditEvent } from '../store/audit.ts';
import { findSession, insertRefreshToken, setSessionAuthTime } from '../store/sessions.ts';
import type { UserRecord } from '../store/users.ts';
import { InvalidCredentialsError, InvalidTokenError } from './errors.ts';
import { auditSource, type RequestContext } from './request-context.ts';
import { hashSecret, newOpaqueToken } from './secrets.ts';
import type { SessionKit } from './session-kit.ts';
import type { Reauthenticated } from './sessions.ts';

export async function reauthenticate(
  kit: SessionKit,
  user: UserRecord,
  sessionId: string,
  /** Undefined: `secondFactor` alone proves the user (a passkey with user verification). */
  password: string | undefined,
  grant: { readonly scope: string; readonly clientId: string | undefined },
  ctx: RequestContext,
  /** Proves a second factor once the password is right; returns the methods it adds. */
  secondFactor?: (user: UserRecord) => Promise<readonly string[]>,
): Promise<Reauthenticated> {
  const session = await findSession(kit.db, sessionId);
  if (session === undefined || session.userId !== user.id || !kit.isSessionLive(session)) {
    throw new InvalidTokenError('session ended');
  }
  if (password !== undefined) await kit.checkCurrentPassword(user, password, ctx, 'reauthenticate');
  else if (secondFactor === undefined) throw new InvalidCredentialsError();
  const second = secondFactor ? await secondFactor(user) : undefined;
  // RFC 8176: what this proof was; a password alone leaves the session one-factor from now on.
  const amr =
    password === undefined
      ? [...new Set(second)]
      : second
        ? [...new Set(['pwd', ...second, 'mfa'])]
        : ['pwd'];
  const method = password === undefined ? 'passkey' : second ? 'password+factor' : 'password';
  const now = kit.clock.now();
  const refresh = session.kind === 'token' ? newOpaqueToken() : undefined;
  const clientId = grant.clientId ?? 'gatehouse';
  const renewed = await kit.db.transaction().execute(async (trx) => {
    if (!(await setSessionAuthTime(trx, session.id, now, amr))) return false;
    if (refresh !== undefined) {
      await insertRefreshToken(trx, {
        id: refresh.id,
        sessionId: session.id,
        secretHash: hashSecret(refresh.secret),
        scope: grant.scope,
        clientId,
        createdAt: now,
      });
    }
    await recordAuditEvent(trx, {
      event: 'user.reauthenticated',
      at: now,
      userId: user.id,
      sessionId: session.id,
      ...auditSource(ctx),
      details: { method, session_kind: session.kind },
    });
    return true;
  });
  if (!renewed) throw new InvalidTokenError('session ended');
  const access = kit.issueAccess(user, session.id, grant.scope, grant.clientId, now, amr);
  return {
    accessToken: access.token,
    expiresInSeconds: access.expiresInSeconds,
    refreshToken: refresh?.value,
    scope: grant.scope,
    authTimeMs: now,
  };
}
