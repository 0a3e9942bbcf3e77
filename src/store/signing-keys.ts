/** Signing keys: one active key per algorithm, retired ones kept while tokens they signed live. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

export interface SigningKeyRecord {
  readonly kid: string;
  readonly alg: string;
  /** JSON of the private JWK. */
  readonly privateJwk: string;
  /** JSON of the public JWK. */
  readonly publicJwk: string;
  readonly state: 'active' | 'retired';
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

export async function listSigningKeys(db: Kysely<Database>, alg: string): Promise<SigningKeyRecord[]> {
  const rows = await db.selectFrom('signing_keys').selectAll().where('alg', '=', alg).execute();
  return rows.map((row) => ({
    kid: row.kid,
    alg: row.alg,
    privateJwk: row.private_jwk,
    publicJwk: row.public_jwk,
    state: row.state,
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
  }));
}

/** The newest active key of the algorithm, or undefined. */
export async function findActiveSigningKey(
  db: Kysely<Database>,
  alg: string,
): Promise<{ kid: string; createdAt: number } | undefined> {
  const row = await db
    .selectFrom('signing_keys')
    .select(['kid', 'created_at'])
    .where('alg', '=', alg)
    .where('state', '=', 'active')
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  return row && { kid: row.kid, createdAt: Number(row.created_at) };
}

/** Retires every active key of the algorithm; returns how many. */
export async function retireActiveSigningKeys(
  db: Kysely<Database>,
  alg: string,
  at: number,
): Promise<number> {
  const result = await db
    .updateTable('signing_keys')
    .set({ state: 'retired', retired_at: at })
    .where('alg', '=', alg)
    .where('state', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function insertActiveSigningKey(
  db: Kysely<Database>,
  key: { kid: string; alg: string; privateJwk: string; publicJwk: string; createdAt: number },
): Promise<void> {
  await db
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      alg: key.alg,
      private_jwk: key.privateJwk,
      public_jwk: key.publicJwk,
      state: 'active',
      created_at: key.createdAt,
    })
    .execute();
}
