/** Roles and their permissions. */
import type { Kysely } from 'kysely';
import { inTransaction } from './db.ts';
import type { Database } from './schema.ts';

export interface RoleRecord {
  readonly name: string;
  readonly description: string;
  readonly builtin: boolean;
  readonly permissions: readonly string[];
}

export async function listRoles(db: Kysely<Database>): Promise<RoleRecord[]> {
  const roles = await db.selectFrom('roles').selectAll().orderBy('name').execute();
  const grants = await db.selectFrom('role_permissions').selectAll().orderBy('permission').execute();
  return roles.map((role) => ({
    name: role.name,
    description: role.description,
    builtin: Number(role.builtin) === 1,
    permissions: grants.filter((g) => g.role_name === role.name).map((g) => g.permission),
  }));
}

export async function insertRole(db: Kysely<Database>, role: Omit<RoleRecord, 'builtin'>): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx
      .insertInto('roles')
      .values({ name: role.name, description: role.description, builtin: 0 })
      .execute();
    if (role.permissions.length > 0) {
      await trx
        .insertInto('role_permissions')
        .values(role.permissions.map((permission) => ({ role_name: role.name, permission })))
        .execute();
    }
  });
}

/** Returns false when the role does not exist. */
export async function updateRole(
  db: Kysely<Database>,
  name: string,
  changes: { description?: string; permissions?: readonly string[] },
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const found = await trx.selectFrom('roles').select('name').where('name', '=', name).executeTakeFirst();
    if (found === undefined) return false;
    if (changes.description !== undefined) {
      await trx
        .updateTable('roles')
        .set({ description: changes.description })
        .where('name', '=', name)
        .execute();
    }
    if (changes.permissions !== undefined) {
      await trx.deleteFrom('role_permissions').where('role_name', '=', name).execute();
      if (changes.permissions.length > 0) {
        await trx
          .insertInto('role_permissions')
          .values(changes.permissions.map((permission) => ({ role_name: name, permission })))
          .execute();
      }
    }
    return true;
  });
}

export async function deleteRole(db: Kysely<Database>, name: string): Promise<void> {
  await db.deleteFrom('roles').where('name', '=', name).execute();
}

export async function countUsersWithRole(db: Kysely<Database>, name: string): Promise<number> {
  const row = await db
    .selectFrom('user_roles')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role_name', '=', name)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Every role held by some user who holds `name` (including `name`): what its holders can do. */
export async function rolesOfHolders(db: Kysely<Database>, name: string): Promise<string[]> {
  const rows = await db
    .selectFrom('user_roles as held')
    .innerJoin('user_roles as other', 'other.user_id', 'held.user_id')
    .select('other.role_name')
    .distinct()
    .where('held.role_name', '=', name)
    .execute();
  return rows.map((row) => row.role_name);
}
