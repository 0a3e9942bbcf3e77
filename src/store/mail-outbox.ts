/**
 * The mail outbox table. Several processes sharing a PostgreSQL database never send the same
 * message at once (see outbox-claims.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { claimDueRows, scheduleRowRetry } from './outbox-claims.ts';
import type { Database } from './schema.ts';

export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface ClaimedMail extends OutgoingMail {
  readonly id: string;
  /** Attempts including this one. */
  readonly attempts: number;
}

let lastMs = -1;
let sequence = 0;

/**
 * A UUIDv7 (RFC 9562) from the clock's `now`, with a counter in its 12 `rand_a` bits (method 1):
 * messages queued by one process in the same millisecond sort in the order they were queued, so
 * the outbox sends them in that order (a registration's verification mail before the sign-in
 * link asked for right after it).
 */
export function timeOrderedId(now: number): string {
  sequence = now === lastMs ? (sequence + 1) & 0xfff : 0;
  lastMs = now;
  const bytes = randomBytes(16);
  bytes.writeUIntBE(Math.max(0, Math.trunc(now)) % 2 ** 48, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export async function insertMail(db: Kysely<Database>, mail: OutgoingMail, now: number): Promise<string> {
  const id = timeOrderedId(now);
  await db
    .insertInto('mail_outbox')
    .values({
      id,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      last_error: null,
      created_at: now,
      sent_at: null,
    })
    .execute();
  return id;
}

/** Claims up to `limit` due messages for `leaseMs`; a crashed sender's claim lapses after it. */
export async function claimDueMail(
  db: Kysely<Database>,
  now: number,
  limit: number,
  leaseMs: number,
): Promise<ClaimedMail[]> {
  const claimed: ClaimedMail[] = [];
  for (const id of await claimDueRows(db, 'mail_outbox', now, limit, leaseMs)) {
    const row = await db
      .selectFrom('mail_outbox')
      .select(['id', 'to', 'subject', 'text', 'html', 'attempts'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (row !== undefined) claimed.push({ ...row, attempts: Number(row.attempts) });
  }
  return claimed;
}

export async function markMailSent(db: Kysely<Database>, id: string, now: number): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ status: 'sent', sent_at: now, last_error: null, text: '', html: '' })
    .where('id', '=', id)
    .execute();
}

export const scheduleMailRetry = (db: Kysely<Database>, id: string, nextAttemptAt: number, error: string) =>
  scheduleRowRetry(db, 'mail_outbox', id, nextAttemptAt, error);

export async function markMailFailed(db: Kysely<Database>, id: string, error: string): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set({ status: 'failed', last_error: error, text: '', html: '' })
    .where('id', '=', id)
    .execute();
}
