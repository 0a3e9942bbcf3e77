/**
 * Second factors, recovery codes and the challenges of the second sign-in step. Every
 * single-use thing (a TOTP step, a recovery code, an `mfa_token`, a WebAuthn counter) is spent by
 * a compare-and-swap, never read-then-write.
 */
import type { Kysely } from 'kysely';
import type {
  Database,
  FactorsTable,
  FactorType,
  MfaChallengePurpose,
  MfaChallengesTable,
} from './schema.ts';

export interface FactorRecord {
  readonly id: string;
  readonly userId: string;
  readonly type: FactorType;
  readonly name: string;
  /** TOTP: the encrypted secret. */
  readonly secret: string | null;
  readonly lastStep: number | null;
  readonly credentialId: string | null;
  readonly publicKey: string | null;
  readonly signCount: number;
  readonly transports: readonly string[];
  readonly aaguid: string | null;
  readonly backedUp: boolean;
  readonly createdAt: number;
  readonly confirmedAt: number | null;
  readonly lastUsedAt: number | null;
}

function toFactor(row: FactorsTable): FactorRecord {
  return {
    id: row.id,
    userId: row.user_id,
    type: row.type,
    name: row.name,
    secret: row.secret,
    lastStep: row.last_step === null ? null : Number(row.last_step),
    credentialId: row.credential_id,
    publicKey: row.public_key,
    signCount: Number(row.sign_count),
    transports: row.transports ? (JSON.parse(row.transports) as string[]) : [],
    aaguid: row.aaguid,
    backedUp: Number(row.backed_up) === 1,
    createdAt: Number(row.created_at),
    confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

export async function insertFactor(db: Kysely<Database>, factor: FactorRecord): Promise<void> {
  await db
    .insertInto('factors')
    .values({
      id: factor.id,
      user_id: factor.userId,
      type: factor.type,
      name: factor.name,
      secret: factor.secret,
      last_step: factor.lastStep,
      credential_id: factor.credentialId,
      public_key: factor.publicKey,
      sign_count: factor.signCount,
      transports: factor.transports.length > 0 ? JSON.stringify(factor.transports) : null,
      aaguid: factor.aaguid,
      backed_up: factor.backedUp ? 1 : 0,
      created_at: factor.createdAt,
      confirmed_at: factor.confirmedAt,
      last_used_at: factor.lastUsedAt,
    })
    .execute();
}

/** A user's factors, oldest first; `confirmedOnly` leaves out TOTP enrolments not yet confirmed. */
export async function listFactors(
  db: Kysely<Database>,
  userId: string,
  confirmedOnly = false,
): Promise<FactorRecord[]> {
  let query = db.selectFrom('factors').selectAll().where('user_id', '=', userId);
  if (confirmedOnly) query = query.where('confirmed_at', 'is not', null);
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map(toFactor);
}

export async function findFactor(db: Kysely<Database>, id: string): Promise<FactorRecord | undefined> {
  const row = await db.selectFrom('factors').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toFactor(row);
}

export async function findFactorByCredentialId(
  db: Kysely<Database>,
  credentialId: string,
): Promise<FactorRecord | undefined> {
  const row = await db
    .selectFrom('factors')
    .selectAll()
    .where('credential_id', '=', credentialId)
    .executeTakeFirst();
  return row === undefined ? undefined : toFactor(row);
}

/** Some factor with a stored TOTP secret, if any (the encryption key must read it to start). */
export async function findEncryptedFactor(db: Kysely<Database>): Promise<FactorRecord | undefined> {
  const row = await db.selectFrom('factors').selectAll().where('secret', 'is not', null).executeTakeFirst();
  return row === undefined ? undefined : toFactor(row);
}

/**
 * Accepts a TOTP code of `step`: only when no code of this step or a later one was accepted
 * (RFC 6238 §5.2). Confirms the factor when it was pending. False: a replay.
 */
export async function spendTotpStep(
  db: Kysely<Database>,
  id: string,
  step: number,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('factors')
    .set((eb) => ({
      last_step: step,
      last_used_at: now,
      confirmed_at: eb.fn.coalesce('confirmed_at', eb.val(now)),
    }))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Moves a WebAuthn counter from `from` to `to`; false when another request moved it first. */
export async function advanceSignCount(
  db: Kysely<Database>,
  id: string,
  from: number,
  to: number,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('factors')
    .set({ sign_count: to, last_used_at: now })
    .where('id', '=', id)
    .where('sign_count', '=', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteFactor(db: Kysely<Database>, userId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('factors')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Removes every factor and recovery code of a user; returns how many factors there were. */
export async function deleteAllFactors(db: Kysely<Database>, userId: string): Promise<number> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  const result = await db.deleteFrom('factors').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function replaceRecoveryCodes(
  db: Kysely<Database>,
  userId: string,
  codes: readonly { id: string; hash: string }[],
  now: number,
): Promise<void> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  if (codes.length === 0) return;
  await db
    .insertInto('recovery_codes')
    .values(
      codes.map((c) => ({ id: c.id, user_id: userId, code_hash: c.hash, created_at: now, used_at: null })),
    )
    .execute();
}

/** Spends one unused recovery code of the user; false when it is unknown, another's or spent. */
export async function spendRecoveryCode(
  db: Kysely<Database>,
  userId: string,
  hash: string,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('code_hash', '=', hash)
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countRecoveryCodes(db: Kysely<Database>, userId: string): Promise<number> {
  const row = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export interface MfaChallengeRecord {
  readonly id: string;
  readonly purpose: MfaChallengePurpose;
  readonly userId: string | null;
  readonly secretHash: string | null;
  readonly challenge: string | null;
  readonly details: Record<string, unknown>;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

function toChallenge(row: MfaChallengesTable): MfaChallengeRecord {
  return {
    id: row.id,
    purpose: row.purpose,
    userId: row.user_id,
    secretHash: row.secret_hash,
    challenge: row.challenge,
    details: JSON.parse(row.details) as Record<string, unknown>,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: row.used_at === null ? null : Number(row.used_at),
  };
}

export async function insertMfaChallenge(
  db: Kysely<Database>,
  record: Omit<MfaChallengeRecord, 'usedAt'>,
): Promise<void> {
  // Expired challenges of nobody's are collected as new ones are made.
  await db
    .deleteFrom('mfa_challenges')
    .where('expires_at', '<', record.createdAt - 86_400_000)
    .execute();
  await db
    .insertInto('mfa_challenges')
    .values({
      id: record.id,
      purpose: record.purpose,
      user_id: record.userId,
      secret_hash: record.secretHash,
      challenge: record.challenge,
      details: JSON.stringify(record.details),
      created_at: record.createdAt,
      expires_at: record.expiresAt,
      used_at: null,
    })
    .execute();
}

export async function findMfaChallenge(
  db: Kysely<Database>,
  id: string,
): Promise<MfaChallengeRecord | undefined> {
  const row = await db.selectFrom('mfa_challenges').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toChallenge(row);
}

export async function findMfaChallengeByChallenge(
  db: Kysely<Database>,
  purpose: MfaChallengePurpose,
  challenge: string,
): Promise<MfaChallengeRecord | undefined> {
  const row = await db
    .selectFrom('mfa_challenges')
    .selectAll()
    .where('challenge', '=', challenge)
    .where('purpose', '=', purpose)
    .executeTakeFirst();
  return row === undefined ? undefined : toChallenge(row);
}

export async function setMfaChallengeValue(
  db: Kysely<Database>,
  id: string,
  challenge: string,
): Promise<void> {
  await db.updateTable('mfa_challenges').set({ challenge }).where('id', '=', id).execute();
}

/** Spends a challenge once, while it lives; false when spent, expired or unknown. */
export async function spendMfaChallenge(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('mfa_challenges')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
