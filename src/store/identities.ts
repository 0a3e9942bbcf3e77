/** Identities at external providers linked to users: one row per (provider, subject). */
import type { Kysely } from 'kysely';
import type { Database, IdentitiesTable } from './schema.ts';

export interface IdentityRecord {
  readonly id: string;
  readonly provider: string;
  readonly subject: string;
  readonly userId: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number;
}

const toRecord = (row: IdentitiesTable): IdentityRecord => ({
  id: row.id,
  provider: row.provider,
  subject: row.subject,
  userId: row.user_id,
  email: row.email,
  emailVerified: Number(row.email_verified) === 1,
  createdAt: Number(row.created_at),
  lastUsedAt: Number(row.last_used_at),
});

export async function findIdentity(
  db: Kysely<Database>,
  provider: string,
  subject: string,
): Promise<IdentityRecord | undefined> {
  const row = await db
    .selectFrom('identities')
    .selectAll()
    .where('provider', '=', provider)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

export async function listUserIdentities(db: Kysely<Database>, userId: string): Promise<IdentityRecord[]> {
  const rows = await db
    .selectFrom('identities')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toRecord);
}

/** Inserts the link; a unique violation (the identity is linked already) propagates. */
export async function insertIdentity(db: Kysely<Database>, identity: IdentityRecord): Promise<void> {
  await db
    .insertInto('identities')
    .values({
      id: identity.id,
      provider: identity.provider,
      subject: identity.subject,
      user_id: identity.userId,
      email: identity.email,
      email_verified: identity.emailVerified ? 1 : 0,
      created_at: identity.createdAt,
      last_used_at: identity.lastUsedAt,
    })
    .execute();
}

export async function touchIdentity(
  db: Kysely<Database>,
  id: string,
  seen: { email: string | null; emailVerified: boolean },
  now: number,
): Promise<void> {
  await db
    .updateTable('identities')
    .set({ last_used_at: now, email: seen.email, email_verified: seen.emailVerified ? 1 : 0 })
    .where('id', '=', id)
    .execute();
}

/** Removes one of the user's identities; false when the user has none with that id. */
export async function deleteIdentity(db: Kysely<Database>, userId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('identities')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Replaces the identity's stored provider tokens (already encrypted). */
export async function setIdentityTokens(db: Kysely<Database>, id: string, sealed: string): Promise<void> {
  await db.updateTable('identities').set({ provider_tokens: sealed }).where('id', '=', id).execute();
}

/** The identity of `userId` at `provider` with its sealed tokens, when there are any. */
export async function findIdentityTokens(
  db: Kysely<Database>,
  userId: string,
  provider: string,
): Promise<{ id: string; sealed: string } | undefined> {
  const row = await db
    .selectFrom('identities')
    .select(['id', 'provider_tokens'])
    .where('user_id', '=', userId)
    .where('provider', '=', provider)
    .where('provider_tokens', 'is not', null)
    .orderBy('last_used_at', 'desc')
    .executeTakeFirst();
  return row?.provider_tokens ? { id: row.id, sealed: row.provider_tokens } : undefined;
}
