/**
 * Claiming due rows of an outbox table (the mail outbox, the back-channel logouts). A claim is a
 * conditional update of one row, so several processes sharing a PostgreSQL database never work
 * on the same row at once: it moves the row's `next_attempt_at` past a lease, and only the
 * process whose update matched owns it.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export type OutboxTable = 'mail_outbox' | 'backchannel_logouts';

/** Claims up to `limit` due rows for `leaseMs` (a crashed worker's claim lapses after it); their ids. */
export async function claimDueRows(
  db: Kysely<Database>,
  table: OutboxTable,
  nowMs: number,
  limit: number,
  leaseMs: number,
): Promise<string[]> {
  // One shape for both tables: the columns a claim reads and writes are the same in each.
  const outbox = db as unknown as Kysely<Pick<Database, 'mail_outbox'>>;
  const from = table as 'mail_outbox';
  const due = await outbox
    .selectFrom(from)
    .select(['id', 'next_attempt_at'])
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', nowMs)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  const claimed: string[] = [];
  for (const candidate of due) {
    const result = await outbox
      .updateTable(from)
      .set((eb) => ({ next_attempt_at: nowMs + leaseMs, attempts: eb('attempts', '+', 1) }))
      .where('id', '=', candidate.id)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '=', candidate.next_attempt_at)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 1) claimed.push(candidate.id);
  }
  return claimed;
}

/** Leaves a claimed row pending until `nextAttemptAt`, with the failure that put it off. */
export async function scheduleRowRetry(
  db: Kysely<Database>,
  table: OutboxTable,
  id: string,
  nextAttemptAt: number,
  error: string,
): Promise<void> {
  const outbox = db as unknown as Kysely<Pick<Database, 'mail_outbox'>>;
  await outbox
    .updateTable(table as 'mail_outbox')
    .set({ next_attempt_at: nextAttemptAt, last_error: error })
    .where('id', '=', id)
    .execute();
}
