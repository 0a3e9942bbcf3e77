/**
 * Persistence of users and their roles: purpose-named functions taking `db` (a transaction
 * passes as `db`); no HTTP, no policy.
 */
import type { CompiledQuery, Kysely } from 'kysely';
import { inTransaction } from './db.ts';
import type { Database, UsersTable } from './schema.ts';

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly fullName: string | null;
  /** Null when the account has no password: password login fails for it like a wrong password. */
  readonly passwordHash: string | null;
  readonly disabled: boolean;
  readonly emailVerified: boolean;
  readonly roles: readonly string[];
  readonly createdAt: number;
}

export interface NewUser {
  readonly id: string;
  readonly username: string;
  readonly usernameNormalized: string;
  readonly email: string;
  readonly emailNormalized: string;
  readonly fullName: string | null;
  readonly passwordHash: string | null;
  readonly roles: readonly string[];
  readonly createdAt: number;
  /** Set when the account is created by a link that proved the address (magic-link sign-up). */
  readonly emailVerifiedAt?: number;
}

type UserRow = Pick<
  UsersTable,
  | 'id'
  | 'username'
  | 'email'
  | 'full_name'
  | 'password_hash'
  | 'disabled'
  | 'created_at'
  | 'email_verified_at'
> & { role_name: string | null };

export function toRecords(rows: readonly UserRow[]): UserRecord[] {
  const byId = new Map<string, { row: UserRow; roles: string[] }>();
  for (const row of rows) {
    let entry = byId.get(row.id);
    if (entry === undefined) {
      entry = { row, roles: [] };
      byId.set(row.id, entry);
    }
    if (row.role_name !== null) entry.roles.push(row.role_name);
  }
  return [...byId.values()].map(({ row, roles }) => ({
    id: row.id,
    username: row.username,
    email: row.email,
    fullName: row.full_name,
    passwordHash: row.password_hash,
    disabled: Number(row.disabled) === 1,
    emailVerified: row.email_verified_at !== null,
    roles: roles.sort(),
    createdAt: Number(row.created_at),
  }));
}

/** A user joined to their roles: one row per role, folded by toRecords. */
export const userWithRoles = (db: Kysely<Database>) =>
  db
    .selectFrom('users')
    .leftJoin('user_roles', 'user_roles.user_id', 'users.id')
    .select([
      'users.id',
      'users.username',
      'users.email',
      'users.full_name',
      'users.password_hash',
      'users.disabled',
      'users.created_at',
      'users.email_verified_at',
      'user_roles.role_name',
    ]);

// The per-request lookup: compiled once per database handle, executed many times.
const byIdQueries = new WeakMap<Kysely<Database>, CompiledQuery>();

export async function findUserById(db: Kysely<Database>, id: string): Promise<UserRecord | undefined> {
  let query = byIdQueries.get(db);
  if (query === undefined) {
    query = userWithRoles(db).where('users.id', '=', '').compile();
    byIdQueries.set(db, query);
  }
  const result = await db.executeQuery<UserRow>({ ...query, parameters: [id] });
  return toRecords(result.rows)[0];
}

// Every password login looks its user up this way: compiled once per database handle too.
const byLoginQueries = new WeakMap<Kysely<Database>, CompiledQuery>();

/** By normalized username or normalized email. */
export async function findUserByLogin(
  db: Kysely<Database>,
  normalized: string,
): Promise<UserRecord | undefined> {
  let query = byLoginQueries.get(db);
  if (query === undefined) {
    query = userWithRoles(db)
      .where((eb) => eb.or([eb('users.username_normalized', '=', ''), eb('users.email_normalized', '=', '')]))
      .compile();
    byLoginQueries.set(db, query);
  }
  const result = await db.executeQuery<UserRow>({ ...query, parameters: [normalized, normalized] });
  return toRecords(result.rows)[0];
}

export async function findUserByUsername(
  db: Kysely<Database>,
  usernameNormalized: string,
): Promise<UserRecord | undefined> {
  const rows = await userWithRoles(db).where('users.username_normalized', '=', usernameNormalized).execute();
  return toRecords(rows)[0];
}

/** Inserts the user and their roles in one transaction (the caller's, if `db` is one); unique violations propagate. */
export async function insertUser(db: Kysely<Database>, user: NewUser): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx
      .insertInto('users')
      .values({
        id: user.id,
        username: user.username,
        username_normalized: user.usernameNormalized,
        email: user.email,
        email_normalized: user.emailNormalized,
        full_name: user.fullName,
        password_hash: user.passwordHash,
        disabled: 0,
        created_at: user.createdAt,
        updated_at: user.createdAt,
        email_verified_at: user.emailVerifiedAt ?? null,
      })
      .execute();
    if (user.roles.length > 0) {
      await trx
        .insertInto('user_roles')
        .values(user.roles.map((role_name) => ({ user_id: user.id, role_name })))
        .execute();
    }
  });
}

/** Which unique value of a new user is already taken, when an insert was refused. */
export async function findUserConflict(
  db: Kysely<Database>,
  usernameNormalized: string,
  emailNormalized: string,
): Promise<'username' | 'email' | undefined> {
  const row = await db
    .selectFrom('users')
    .select(['username_normalized'])
    .where((eb) =>
      eb.or([
        eb('username_normalized', '=', usernameNormalized),
        eb('email_normalized', '=', emailNormalized),
      ]),
    )
    .orderBy('created_at')
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return row.username_normalized === usernameNormalized ? 'username' : 'email';
}

/** Replaces the user's roles; returns false when the user or a role does not exist. */
export async function setUserRoles(
  db: Kysely<Database>,
  id: string,
  roles: readonly string[],
): Promise<boolean> {
  // Inside a caller's transaction (an admin change of several fields) it joins that one.
  return inTransaction(db, async (trx) => {
    const user = await trx.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
    if (user === undefined) return false;
    if (roles.length > 0) {
      const known = await trx
        .selectFrom('roles')
        .select('name')
        .where('name', 'in', [...roles])
        .execute();
      if (known.length !== new Set(roles).size) return false;
    }
    await trx.deleteFrom('user_roles').where('user_id', '=', id).execute();
    if (roles.length > 0) {
      await trx
        .insertInto('user_roles')
        .values([...new Set(roles)].map((role_name) => ({ user_id: id, role_name })))
        .execute();
    }
    return true;
  });
}

/** Returns false when the user does not exist; unique violations propagate. */
export async function updateUserProfile(
  db: Kysely<Database>,
  id: string,
  changes: { fullName?: string | null; email?: { display: string; key: string } },
  updatedAt: number,
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({
      updated_at: updatedAt,
      ...(changes.fullName !== undefined ? { full_name: changes.fullName } : {}),
      ...(changes.email !== undefined
        ? { email: changes.email.display, email_normalized: changes.email.key, email_verified_at: null }
        : {}),
    })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Sessions, refresh tokens, roles and API keys go with the row (ON DELETE CASCADE). */
export async function deleteUser(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function listRoleNames(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('roles').select('name').orderBy('name').execute();
  return rows.map((r) => r.name);
}

/**
 * Marks the user's address verified, if it is still `emailNormalized` (a link sent to an old
 * address proves nothing about a new one). Returns false when it is not.
 */
export async function markEmailVerified(
  executor: Kysely<Database>,
  id: string,
  emailNormalized: string,
  now: number,
): Promise<boolean> {
  const result = await executor
    .updateTable('users')
    .set({ email_verified_at: now, updated_at: now })
    .where('id', '=', id)
    .where('email_normalized', '=', emailNormalized)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Replaces the address `oldNormalized` by a confirmed new one, verified by that confirmation.
 * Returns false when the user's address changed meanwhile; a unique violation propagates.
 */
export async function replaceConfirmedEmail(
  executor: Kysely<Database>,
  id: string,
  oldNormalized: string,
  email: { display: string; key: string },
  now: number,
): Promise<boolean> {
  const result = await executor
    .updateTable('users')
    .set({ email: email.display, email_normalized: email.key, email_verified_at: now, updated_at: now })
    .where('id', '=', id)
    .where('email_normalized', '=', oldNormalized)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Sets the user's password hash; null removes the password. */
export async function setPasswordHash(
  executor: Kysely<Database>,
  id: string,
  passwordHash: string | null,
  now: number,
): Promise<void> {
  await executor
    .updateTable('users')
    .set({ password_hash: passwordHash, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/** Sets whether the user is disabled; returns false when no user has that id. */
export async function setUserDisabled(
  db: Kysely<Database>,
  id: string,
  disabled: boolean,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ disabled: disabled ? 1 : 0, updated_at: now })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Marks the address verified and sets the password hash, only while the user still has the
 * address `emailNormalized` unverified: of two claims racing, only one gets true.
 */
export async function claimUnverifiedEmail(
  db: Kysely<Database>,
  id: string,
  emailNormalized: string,
  passwordHash: string | null,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ email_verified_at: now, password_hash: passwordHash, updated_at: now })
    .where('id', '=', id)
    .where('email_normalized', '=', emailNormalized)
    .where('email_verified_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
