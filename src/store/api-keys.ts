/** API keys: only a hash of the secret is stored. */
import type { Kysely } from 'kysely';
import type { ApiKeysTable, Database } from './schema.ts';

export interface ApiKeyRecord {
  readonly id: string;
  readonly userId: string;
  readonly name: string;
  readonly secretHash: string;
  readonly scopes: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

function toRecord(row: ApiKeysTable): ApiKeyRecord {
  const num = (value: number | null) => (value === null ? null : Number(value));
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    secretHash: row.secret_hash,
    scopes: row.scopes === '' ? [] : row.scopes.split(' '),
    createdAt: Number(row.created_at),
    expiresAt: num(row.expires_at),
    lastUsedAt: num(row.last_used_at),
    revokedAt: num(row.revoked_at),
  };
}

export async function insertApiKey(
  db: Kysely<Database>,
  key: Omit<ApiKeyRecord, 'lastUsedAt' | 'revokedAt'>,
): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({
      id: key.id,
      user_id: key.userId,
      name: key.name,
      secret_hash: key.secretHash,
      scopes: key.scopes.join(' '),
      created_at: key.createdAt,
      expires_at: key.expiresAt,
    })
    .execute();
}

export async function findApiKey(db: Kysely<Database>, id: string): Promise<ApiKeyRecord | undefined> {
  const row = await db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** Unrevoked keys, of one user or of everyone, newest first. */
export async function listApiKeys(db: Kysely<Database>, userId: string | undefined): Promise<ApiKeyRecord[]> {
  let query = db.selectFrom('api_keys').selectAll().where('revoked_at', 'is', null);
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  const rows = await query.orderBy('created_at', 'desc').orderBy('id').limit(1000).execute();
  return rows.map(toRecord);
}

/** Returns false when no unrevoked key matched. */
export async function revokeApiKey(
  db: Kysely<Database>,
  id: string,
  userId: string | undefined,
  nowMs: number,
): Promise<boolean> {
  let query = db
    .updateTable('api_keys')
    .set({ revoked_at: nowMs })
    .where('id', '=', id)
    .where('revoked_at', 'is', null);
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function recordApiKeyUse(db: Kysely<Database>, id: string, nowMs: number): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: nowMs }).where('id', '=', id).execute();
}

/** Revokes every unrevoked key of the user; returns how many. */
export async function revokeUserApiKeys(
  db: Kysely<Database>,
  userId: string,
  nowMs: number,
): Promise<number> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: nowMs })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Keys of the user that still work: unrevoked and unexpired. */
export async function countLiveApiKeys(db: Kysely<Database>, userId: string, nowMs: number): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
