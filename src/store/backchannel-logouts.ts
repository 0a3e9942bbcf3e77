/**
 * The back-channel logout outbox (OpenID Connect Back-Channel Logout 1.0). Rows are queued in the
 * transaction that revokes a browser session, so a logout is never lost to a crash; several
 * processes never deliver one row at once (see outbox-claims.ts).
 */
import type { Kysely } from 'kysely';
import { timeOrderedId } from './mail-outbox.ts';
import { claimDueRows, scheduleRowRetry } from './outbox-claims.ts';
import type { Database } from './schema.ts';

export interface ClaimedLogout {
  readonly id: string;
  readonly clientId: string;
  readonly subject: string;
  readonly sid: string;
  /** Attempts including this one. */
  readonly attempts: number;
}

/**
 * Queues a logout for every client with a `backchannel_logout_uri` that has a token session from
 * one of the browser sessions `sids`; returns how many rows were queued.
 */
export async function queueBackchannelLogouts(
  db: Kysely<Database>,
  sids: readonly string[],
  nowMs: number,
): Promise<number> {
  if (sids.length === 0) return 0;
  const targets = await db
    .selectFrom('sessions')
    .innerJoin('clients', 'clients.client_id', 'sessions.client_id')
    .select(['sessions.client_id', 'sessions.user_id', 'sessions.parent_session_id'])
    .distinct()
    .where('sessions.parent_session_id', 'in', [...sids])
    .where('clients.backchannel_logout_uri', 'is not', null)
    .execute();
  for (const target of targets) {
    if (target.client_id === null || target.parent_session_id === null) continue;
    await db
      .insertInto('backchannel_logouts')
      .values({
        id: timeOrderedId(nowMs),
        client_id: target.client_id,
        subject: target.user_id,
        sid: target.parent_session_id,
        status: 'pending',
        attempts: 0,
        next_attempt_at: nowMs,
        last_error: null,
        created_at: nowMs,
        delivered_at: null,
      })
      .onConflict((oc) => oc.columns(['client_id', 'sid']).doNothing())
      .execute();
  }
  return targets.length;
}

/** Claims up to `limit` due logouts for `leaseMs`; a crashed sender's claim lapses after it. */
export async function claimDueLogouts(
  db: Kysely<Database>,
  nowMs: number,
  limit: number,
  leaseMs: number,
): Promise<ClaimedLogout[]> {
  const ids = await claimDueRows(db, 'backchannel_logouts', nowMs, limit, leaseMs);
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('backchannel_logouts')
    .select(['id', 'client_id', 'subject', 'sid', 'attempts'])
    .where('id', 'in', ids)
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    id: row.id,
    clientId: row.client_id,
    subject: row.subject,
    sid: row.sid,
    attempts: Number(row.attempts),
  }));
}

/** Ends a logout row: `delivered`, or `failed` after the last attempt (or with no receiver left). */
export async function finishLogout(
  db: Kysely<Database>,
  id: string,
  outcome: { status: 'delivered' | 'failed'; atMs: number; error?: string },
): Promise<void> {
  await db
    .updateTable('backchannel_logouts')
    .set({
      status: outcome.status,
      delivered_at: outcome.status === 'delivered' ? outcome.atMs : null,
      last_error: outcome.error ?? null,
    })
    .where('id', '=', id)
    .execute();
}

export const scheduleLogoutRetry = (db: Kysely<Database>, id: string, nextAttemptAt: number, error: string) =>
  scheduleRowRetry(db, 'backchannel_logouts', id, nextAttemptAt, error);
