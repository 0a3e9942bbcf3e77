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
  | 'user.created'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.deleted'
  | 'user.updated'
  | 'user.reauthenticated'
  | 'role.changed'
  | 'role.created'
  | 'role.updated'
  | 'role.deleted'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'api_key.expired_use_refused'
  | 'key.rotated'
  | 'email.verification_requested'
  | 'email.verified'
  | 'password.reset_requested'
  | 'password.reset'
  | 'magic_link.requested'
  | 'email.change_requested'
  | 'email.changed'
  | 'account.claimed'
  | 'factor.added'
  | 'factor.removed'
  | 'factors.reset'
  | 'recovery_codes.generated'
  | 'recovery_code.used'
  | 'webauthn.sign_count_regressed'
  | 'identity.linked'
  | 'identity.unlinked'
  | 'client.created'
  | 'client.updated'
  | 'client.deleted'
  | 'client.secret_rotated'
  | 'token.revoked'
  | 'oauth.code_issued'
  | 'oauth.consent_granted'
  | 'oauth.code_reused'
  | 'oauth.client_token_issued';

/** Never a secret or personal value: reasons, counts, ids, role and permission names, field names. */
export type AuditDetails = Record<string, string | number | boolean | null | readonly string[]>;

export interface AuditEvent {
  readonly event: AuditEventName;
  readonly at: number;
  /** The account the event concerns. */
  readonly userId?: string | null;
  readonly sessionId?: string | null;
  /** The signed-in user who made the change; null when anonymous or the operator's CLI. */
  readonly actorId?: string | null;
  /** The id of what changed (user id, role name, API key id, session id); defaults to `userId`. */
  readonly target?: string | null;
  readonly ip?: string | null;
  readonly userAgent?: string | null;
  /** Changes list the names of the fields they changed (`fields`), never their values. */
  readonly details?: AuditDetails;
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
      actor_id: event.actorId ?? null,
      target: event.target !== undefined ? event.target : (event.userId ?? null),
    })
    .execute();
}

/** Newest first; `before` continues after the last event of the previous page. */
export async function listAuditEvents(
  db: Kysely<Database>,
  filter: {
    userId?: string;
    actorId?: string;
    event?: string;
    limit?: number;
    before?: { at: number; id: string };
  } = {},
): Promise<AuditRecord[]> {
  let query = db
    .selectFrom('audit_events')
    .selectAll()
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
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
    actorId: row.actor_id,
    target: row.target,
    ip: row.ip,
    userAgent: row.user_agent,
    details: JSON.parse(row.details) as AuditDetails,
  }));
}
