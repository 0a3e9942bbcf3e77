/**
 * Sessions and their refresh tokens. Rotation is a compare-and-swap on `spent_at` inside a
 * transaction (RFC 9700 §4.14.2): never read-then-write.
 */
import type { Kysely } from 'kysely';
import { queueBackchannelLogouts } from './backchannel-logouts.ts';
import type { Database, SessionsTable } from './schema.ts';

export type SessionKind = SessionsTable['kind'];

export interface SessionRecord {
  readonly id: string;
  readonly userId: string;
  readonly kind: SessionKind;
  readonly secretHash: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  /** When the user last proved a credential in this session (RFC 9470 `auth_time`), in ms. */
  readonly authTime: number;
  /** RFC 8176 methods the session was proven with; undefined for sessions older than factors. */
  readonly amr?: readonly string[] | undefined;
  /** The external provider the session was signed in with (`amr: ["ext"]` on its tokens). */
  readonly externalProvider?: string | null;
  /** A token session of an OpenID Provider client: the client, and the browser session it came from. */
  readonly clientId?: string | null;
  readonly parentSessionId?: string | null;
  /** The `aud` of the client session's access tokens; null: the server's audience. */
  readonly audience?: string | null;
}

export interface RefreshTokenRecord {
  readonly id: string;
  readonly sessionId: string;
  readonly secretHash: string;
  readonly scope: string;
  readonly clientId: string;
  readonly createdAt: number;
  readonly spentAt: number | null;
}

function toSession(row: SessionsTable): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    secretHash: row.secret_hash,
    ip: row.ip,
    userAgent: row.user_agent,
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
    expiresAt: Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    authTime: Number(row.auth_time ?? row.created_at),
    amr: row.amr ? row.amr.split(' ') : undefined,
    externalProvider: row.external_provider ?? null,
    clientId: row.client_id ?? null,
    parentSessionId: row.parent_session_id ?? null,
    audience: row.audience ?? null,
  };
}

export async function insertSession(
  db: Kysely<Database>,
  session: Omit<SessionRecord, 'revokedAt'>,
): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id: session.id,
      user_id: session.userId,
      kind: session.kind,
      secret_hash: session.secretHash,
      ip: session.ip,
      user_agent: session.userAgent?.slice(0, 512) ?? null,
      created_at: session.createdAt,
      last_used_at: session.lastUsedAt,
      expires_at: session.expiresAt,
      auth_time: session.authTime,
      amr: session.amr ? session.amr.join(' ') : null,
      external_provider: session.externalProvider ?? null,
      client_id: session.clientId ?? null,
      parent_session_id: session.parentSessionId ?? null,
      audience: session.audience ?? null,
    })
    .execute();
}

export async function findSession(db: Kysely<Database>, id: string): Promise<SessionRecord | undefined> {
  const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toSession(row);
}

/** Live (not revoked, not past `expires_at`) sessions of a user, newest first. */
export async function listLiveSessions(
  db: Kysely<Database>,
  userId: string,
  nowMs: number,
): Promise<SessionRecord[]> {
  const rows = await db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', nowMs)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(toSession);
}

export async function touchSession(db: Kysely<Database>, id: string, nowMs: number): Promise<void> {
  await db.updateTable('sessions').set({ last_used_at: nowMs }).where('id', '=', id).execute();
}

/** Records a new proof of a credential in a live session; false when it is revoked or gone. */
export async function setSessionAuthTime(
  db: Kysely<Database>,
  id: string,
  nowMs: number,
  amr?: readonly string[],
): Promise<boolean> {
  const result = await db
    .updateTable('sessions')
    .set({ auth_time: nowMs, last_used_at: nowMs, ...(amr ? { amr: amr.join(' ') } : {}) })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Revokes the given live sessions and, with a browser session, the OpenID Provider client
 * sessions issued from it (`parent_session_id`); queues the back-channel logouts of the clients
 * that asked for them (in the same transaction as `db`). Returns the ids that this call revoked.
 */
export async function revokeSessions(
  db: Kysely<Database>,
  where: { ids?: readonly string[]; userId?: string; exceptId?: string; clientId?: string },
  nowMs: number,
  reason: string,
): Promise<string[]> {
  let query = db.selectFrom('sessions').select('id').where('revoked_at', 'is', null);
  if (where.ids !== undefined) {
    if (where.ids.length === 0) return [];
    query = query.where('id', 'in', [...where.ids]);
  }
  if (where.userId !== undefined) query = query.where('user_id', '=', where.userId);
  if (where.exceptId !== undefined) query = query.where('id', '!=', where.exceptId);
  if (where.clientId !== undefined) query = query.where('client_id', '=', where.clientId);
  const selected = (await query.execute()).map((row) => row.id);
  if (selected.length === 0) return [];
  const children = await db
    .selectFrom('sessions')
    .select('id')
    .where('parent_session_id', 'in', selected)
    .where('revoked_at', 'is', null)
    .execute();
  const ids = [...new Set([...selected, ...children.map((row) => row.id)])];
  await db
    .updateTable('sessions')
    .set({ revoked_at: nowMs, revoked_reason: reason })
    .where('id', 'in', ids)
    .where('revoked_at', 'is', null)
    .execute();
  await queueBackchannelLogouts(db, selected, nowMs);
  return ids;
}

/** Sessions revoked since `sinceMs`, oldest first: the set the hot path must still refuse. */
export async function listSessionsRevokedSince(
  db: Kysely<Database>,
  sinceMs: number,
): Promise<{ id: string; revokedAt: number }[]> {
  const rows = await db
    .selectFrom('sessions')
    .select(['id', 'revoked_at'])
    .where('revoked_at', '>=', sinceMs)
    .orderBy('revoked_at')
    .execute();
  return rows.map((row) => ({ id: row.id, revokedAt: Number(row.revoked_at) }));
}

export async function insertRefreshToken(
  db: Kysely<Database>,
  token: Omit<RefreshTokenRecord, 'spentAt'>,
): Promise<void> {
  await db
    .insertInto('refresh_tokens')
    .values({
      id: token.id,
      session_id: token.sessionId,
      secret_hash: token.secretHash,
      scope: token.scope,
      client_id: token.clientId,
      created_at: token.createdAt,
    })
    .execute();
}

export async function findRefreshToken(
  db: Kysely<Database>,
  id: string,
): Promise<RefreshTokenRecord | undefined> {
  const row = await db.selectFrom('refresh_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    id: row.id,
    sessionId: row.session_id,
    secretHash: row.secret_hash,
    scope: row.scope,
    clientId: row.client_id,
    createdAt: Number(row.created_at),
    spentAt: row.spent_at === null ? null : Number(row.spent_at),
  };
}

/** The compare-and-swap: marks the token spent only if it was not. True when this call spent it. */
export async function spendRefreshToken(db: Kysely<Database>, id: string, nowMs: number): Promise<boolean> {
  const result = await db
    .updateTable('refresh_tokens')
    .set({ spent_at: nowMs })
    .where('id', '=', id)
    .where('spent_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
