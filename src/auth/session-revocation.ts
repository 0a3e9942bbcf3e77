/** A user's sessions: listing them, logout, revoking one, and logout everywhere. */
import { recordAuditEvent } from '../store/audit.ts';
import { spendUserEmailTokens } from '../store/email-tokens.ts';
import { listLiveSessions } from '../store/sessions.ts';
import { SessionNotFoundError } from './errors.ts';
import { auditSource, type RequestContext } from './request-context.ts';
import type { SessionKit } from './session-kit.ts';
import type { SessionService, SessionView } from './sessions.ts';

export function createSessionRevocation(
  kit: SessionKit,
): Pick<SessionService, 'logout' | 'listSessions' | 'revokeSession' | 'revokeAllSessions'> {
  const { db, clock, revocation } = kit;
  return {
    async logout(sessionId: string, userId: string, ctx: RequestContext): Promise<void> {
      const now = clock.now();
      const revoked = await db.transaction().execute(async (trx) => {
        const ids = await kit.revokeAndRemember(trx, { ids: [sessionId], userId }, 'logout');
        await recordAuditEvent(trx, {
          event: 'logout',
          at: now,
          userId,
          sessionId,
          ...auditSource(ctx),
        });
        return ids;
      });
      revocation.markSessionsRevoked(revoked, now);
    },

    async listSessions(userId: string, currentSessionId: string | undefined): Promise<SessionView[]> {
      const sessions = await listLiveSessions(db, userId, clock.now());
      return sessions.filter(kit.isSessionLive).map((session) => ({
        id: session.id,
        createdAt: session.createdAt,
        lastUsedAt: session.lastUsedAt,
        ip: session.ip,
        userAgent: session.userAgent,
        current: session.id === currentSessionId,
      }));
    },

    async revokeSession(userId: string, sessionId: string, ctx: RequestContext): Promise<void> {
      const now = clock.now();
      const revoked = await db.transaction().execute(async (trx) => {
        const ids = await kit.revokeAndRemember(trx, { ids: [sessionId], userId }, 'revoked by user');
        if (ids.length > 0) {
          await recordAuditEvent(trx, {
            event: 'session.revoked',
            at: now,
            userId,
            sessionId,
            target: sessionId,
            ...auditSource(ctx),
          });
        }
        return ids;
      });
      if (revoked.length === 0) throw new SessionNotFoundError();
      revocation.markSessionsRevoked(revoked, now);
    },

    async revokeAllSessions(userId: string, ctx: RequestContext): Promise<void> {
      const now = clock.now();
      const revoked = await db.transaction().execute(async (trx) => {
        const ids = await kit.revokeAndRemember(trx, { userId }, 'logout everywhere');
        // A link an intruder had mailed (an email change to their address) must not outlive them.
        const linksSpent = await spendUserEmailTokens(trx, userId, 'every', now);
        await recordAuditEvent(trx, {
          event: 'session.revoked',
          at: now,
          userId,
          ...auditSource(ctx),
          details: { all: true, count: ids.length, links_spent: linksSpent },
        });
        return ids;
      });
      revocation.markSessionsRevoked(revoked, now);
    },
  };
}
