/** The audit log: security events, written in the same transaction as the change they record. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export type AuditEventName =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.blocked'
  | 'login.unblocked'
  | 'token.refreshed'
  | 'refresh_token.reused'
  | 'logout'
  | 'session.revoked'
  | 'password.changed'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.deleted'
  | 'user.updated'
  | 'role.changed'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'key.rotated'
  | 'email.verified'
  | 'password.reset_requested'
  | 'password.reset'
  | 'magic_link.requested'
  | 'email.change_requested'
  | 'email.changed'
  | 'user.reauthenticated';

export interface AuditEvent {
  readonly event: AuditEventName;
  readonly at: number;
  readonly userId?: string | null;
  readonly sessionId?: string | null;
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  /** Never a secret: reasons, counts, ids. */
  readonly details?: Record<string, string | number | boolean | null>;
}

export interface AuditRecord extends AuditEvent {
  readonly id: string;
}

/** Writes one event with `executor`, which is the transaction of the change it records. */
export async function recordAuditEvent(executor: Kysely<Database>, event: AuditEvent): Promise<void> {
  await executor
    .insertInto('audit_events')
    .values({
      id: randomUUID(),
      at: event.at,
      event: event.event,
      user_id: event.userId ?? null,
      session_id: event.sessionId ?? null,
      ip: event.ip ?? null,
      user_agent: event.userAgent?.slice(0, 512) ?? null,
      details: JSON.stringify(event.details ?? {}),
    })
    .execute();
}

/** Newest first; `before` continues after the last event of the previous page. */
export async function listAuditEvents(
  db: Kysely<Database>,
  filter: { userId?: string; event?: string; limit?: number; before?: { at: number; id: string } } = {},
): Promise<AuditRecord[]> {
  let query = db
    .selectFrom('audit_events')
    .selectAll()
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.event !== undefined) query = query.where('event', '=', filter.event);
  const before = filter.before;
  if (before !== undefined) {
    // A row-value comparison, not the equivalent OR: PostgreSQL turns it into an index bound on
    // (at, id) instead of filtering every row of the pages before (docs/postgres.md).
    query = query.where(({ eb, refTuple, tuple }) =>
      eb(refTuple('at', 'id'), '<', tuple(before.at, before.id)),
    );
  }
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    event: row.event as AuditEventName,
    at: Number(row.at),
    userId: row.user_id,
    sessionId: row.session_id,
    ip: row.ip,
    userAgent: row.user_agent,
    details: JSON.parse(row.details) as Record<string, string | number | boolean | null>,
  }));
}
