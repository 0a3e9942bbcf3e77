/**
 * Refresh-token rotation (RFC 6749 §6, RFC 9700 §4.14): compare-and-swap on the spent token, a
 * grace window for a racing second presenter, and reuse detection that ends the session.
 */
import { recordAuditEvent } from '../store/audit.ts';
import {
  findRefreshToken,
  findSession,
  insertRefreshToken,
  spendRefreshToken,
  touchSession,
} from '../store/sessions.ts';
import { InvalidRefreshTokenError, InvalidScopeError } from './errors.ts';
import { OIDC_SCOPES } from './oidc/scopes.ts';
import { auditSource, type RequestContext } from './request-context.ts';
import { effectiveScope } from './scopes.ts';
import { hashSecret, newOpaqueToken, secretMatches, splitOpaqueToken } from './secrets.ts';
import type { SessionKit } from './session-kit.ts';
import type { TokenPair } from './sessions.ts';

/**
 * Rotates a refresh token; `requestedScope` may only narrow the grant. A token issued to an
 * OpenID Provider client is taken only with that client's id (it authenticated), and Gatehouse's
 * own only without one.
 */
export async function rotateRefreshToken(
  kit: SessionKit,
  refreshToken: string,
  requestedScope: readonly string[] | undefined,
  ctx: RequestContext,
  clientId?: string,
): Promise<TokenPair> {
  const { db, clock, options, revocation, accounts } = kit;
  const parts = splitOpaqueToken(refreshToken);
  if (parts === undefined) throw new InvalidRefreshTokenError('malformed');
  const stored = await findRefreshToken(db, parts.id);
  if (stored === undefined || !secretMatches(parts.secret, stored.secretHash)) {
    throw new InvalidRefreshTokenError('unknown');
  }
  const granted = stored.scope === '' ? [] : stored.scope.split(' ');
  if (requestedScope?.some((scope) => !granted.includes(scope))) {
    throw new InvalidScopeError();
  }
  const accessScope = requestedScope === undefined ? stored.scope : requestedScope.join(' ');
  const session = await findSession(db, stored.sessionId);
  if (session === undefined || !kit.isSessionLive(session))
    throw new InvalidRefreshTokenError('session ended');
  if ((session.clientId ?? undefined) !== clientId) throw new InvalidRefreshTokenError('another client');

  const now = clock.now();
  const next = newOpaqueToken();
  // Read outside the transaction: SQLite has one connection, which the transaction holds.
  const user = await accounts.findUser(session.userId);
  const outcome = await db.transaction().execute(async (trx) => {
    if (user === undefined || user.disabled) {
      const revoked = await kit.revokeAndRemember(
        trx,
        { ids: [session.id] },
        user ? 'user disabled' : 'user deleted',
      );
      return { kind: 'user-gone' as const, revoked };
    }
    const spent = await spendRefreshToken(trx, stored.id, now);
    if (!spent) {
      const current = await findRefreshToken(trx, stored.id);
      const spentAt = current?.spentAt ?? now;
      const withinGrace = options.reuseGraceSeconds > 0 && now - spentAt <= options.reuseGraceSeconds * 1000;
      if (!withinGrace) {
        // RFC 9700 §4.14.2: a spent refresh token presented again means it was stolen.
        const revoked = await kit.revokeAndRemember(trx, { ids: [session.id] }, 'refresh token reused');
        await recordAuditEvent(trx, {
          event: 'refresh_token.reused',
          at: now,
          userId: user.id,
          sessionId: session.id,
          ...auditSource(ctx),
          details: { spent_ms_ago: now - spentAt },
        });
        return { kind: 'reused' as const, revoked };
      }
    }
    // Within the grace window a second presenter gets a sibling: a new refresh token in the
    // same session (a secret is never returned twice, so the first successor cannot be).
    await insertRefreshToken(trx, {
      id: next.id,
      sessionId: session.id,
      secretHash: hashSecret(next.secret),
      scope: stored.scope,
      clientId: stored.clientId,
      createdAt: now,
    });
    await touchSession(trx, session.id, now);
    await recordAuditEvent(trx, {
      event: 'token.refreshed',
      at: now,
      userId: user.id,
      sessionId: session.id,
      ...auditSource(ctx),
      details: { within_grace: !spent },
    });
    return { kind: 'rotated' as const, user };
  });
  if (outcome.kind !== 'rotated') {
    revocation.markSessionsRevoked(outcome.revoked, now);
    if (outcome.kind === 'reused') kit.metrics?.refreshReuseDetected();
    throw new InvalidRefreshTokenError(outcome.kind);
  }
  // A client's grant keeps its OpenID scopes (`openid`, `profile`, …), which are no permissions.
  const permissions = options.permissionsOf(outcome.user);
  const held = session.clientId ? new Set([...permissions, ...OIDC_SCOPES]) : permissions;
  const grantedNow = effectiveScope(held, accessScope);
  // RFC 9470: a refresh proves no credential, so the session's auth_time carries over.
  const access = kit.issueAccess(
    outcome.user,
    session.id,
    grantedNow,
    stored.clientId,
    session.authTime,
    session.amr,
    session.externalProvider ?? undefined,
    session.audience ?? undefined,
  );
  return {
    accessToken: access.token,
    expiresInSeconds: access.expiresInSeconds,
    refreshToken: next.value,
    scope: grantedNow,
    sessionId: session.id,
  };
}
