/** One-time tokens sent by email. Only their hash is stored; spending is one atomic update. */
import type { Kysely } from 'kysely';
import type { Database, EmailTokenPurpose } from './schema.ts';

export interface EmailTokenRecord {
  readonly purpose: EmailTokenPurpose;
  readonly userId: string | null;
  readonly email: string;
  readonly newEmail: string | null;
  readonly expiresAt: number;
}

export interface NewEmailToken extends EmailTokenRecord {
  readonly tokenHash: string;
  readonly createdAt: number;
}

export async function insertEmailToken(db: Kysely<Database>, token: NewEmailToken): Promise<void> {
  await db
    .insertInto('email_tokens')
    .values({
      token_hash: token.tokenHash,
      purpose: token.purpose,
      user_id: token.userId,
      email: token.email,
      new_email: token.newEmail,
      expires_at: token.expiresAt,
      used_at: null,
      created_at: token.createdAt,
    })
    .execute();
}

/** The token when it is unspent, unexpired and of this purpose; nothing changes. */
export async function findUsableEmailToken(
  db: Kysely<Database>,
  tokenHash: string,
  purpose: EmailTokenPurpose,
  now: number,
): Promise<EmailTokenRecord | undefined> {
  const row = await db
    .selectFrom('email_tokens')
    .select(['purpose', 'user_id', 'email', 'new_email', 'expires_at'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        purpose: row.purpose,
        userId: row.user_id,
        email: row.email,
        newEmail: row.new_email,
        expiresAt: Number(row.expires_at),
      };
}

/**
 * Marks the token used if it still is usable; true for exactly one caller however many race,
 * because the condition and the write are one statement.
 */
export async function spendEmailToken(
  db: Kysely<Database>,
  tokenHash: string,
  purpose: EmailTokenPurpose,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Spends every outstanding token of the user for `purpose` (a newer one or a completed flow wins),
 * or for `every` purpose: after a recovery or a takeover no link mailed before it works.
 */
export async function spendUserEmailTokens(
  db: Kysely<Database>,
  userId: string,
  purpose: EmailTokenPurpose | 'every',
  now: number,
): Promise<number> {
  let query = db.updateTable('email_tokens').set({ used_at: now }).where('user_id', '=', userId);
  if (purpose !== 'every') query = query.where('purpose', '=', purpose);
  const result = await query.where('used_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows);
}
