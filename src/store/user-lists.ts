/**
 * Pages, searches and counts of users (the admin list and its guards): purpose-named functions
 * taking `db`; no HTTP, no policy.
 */
import { type Kysely, type SelectQueryBuilder, sql } from 'kysely';
import type { Database } from './schema.ts';
import { toRecords, type UserRecord, userWithRoles } from './users.ts';

export interface UserFilter {
  /** Prefix of the normalized username or email. */
  readonly q?: string;
  readonly role?: string;
  readonly disabled?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: the same filter applies to a select of ids and a count.
function applyFilter<Q extends SelectQueryBuilder<Database, 'users', any>>(query: Q, filter: UserFilter): Q {
  let q = query;
  if (filter.q !== undefined && filter.q !== '') {
    const prefix = `${filter.q
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) =>
      eb.or([
        eb('users.username_normalized', 'like', sql<string>`${prefix} escape '\\'`),
        eb('users.email_normalized', 'like', sql<string>`${prefix} escape '\\'`),
      ]),
    ) as Q;
  }
  if (filter.role !== undefined) {
    const role = filter.role;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('user_roles')
          .select('user_roles.user_id')
          .whereRef('user_roles.user_id', '=', 'users.id')
          .where('user_roles.role_name', '=', role),
      ),
    ) as Q;
  }
  if (filter.disabled !== undefined) q = q.where('users.disabled', '=', filter.disabled ? 1 : 0) as Q;
  return q;
}

export async function listUsers(db: Kysely<Database>, limit: number, offset: number): Promise<UserRecord[]> {
  const page = db
    .selectFrom('users')
    .select('id')
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .offset(offset);
  const rows = await userWithRoles(db)
    .where('users.id', 'in', page)
    .orderBy('users.created_at')
    .orderBy('users.id')
    .execute();
  return toRecords(rows);
}

/** Filtered page in (created_at, id) order: after a cursor position, or at an offset. */
export async function searchUsers(
  db: Kysely<Database>,
  filter: UserFilter,
  page: { limit: number; offset?: number; after?: { createdAt: number; id: string } },
): Promise<UserRecord[]> {
  let ids = db.selectFrom('users').select('users.id');
  ids = applyFilter(ids, filter);
  if (page.after !== undefined) {
    const { createdAt, id } = page.after;
    // A row-value comparison: an index bound on (created_at, id) rather than a filter.
    ids = ids.where(({ eb, refTuple, tuple }) =>
      eb(refTuple('users.created_at', 'users.id'), '>', tuple(createdAt, id)),
    );
  }
  const pageIds = ids
    .orderBy('users.created_at')
    .orderBy('users.id')
    .limit(page.limit)
    .offset(page.offset ?? 0);
  const rows = await userWithRoles(db)
    .where('users.id', 'in', pageIds)
    .orderBy('users.created_at')
    .orderBy('users.id')
    .execute();
  return toRecords(rows);
}

export async function countUsersMatching(db: Kysely<Database>, filter: UserFilter): Promise<number> {
  const row = await applyFilter(
    db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')),
    filter,
  ).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Enabled users holding `role`. */
export async function countEnabledUsersWithRole(db: Kysely<Database>, role: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_roles.role_name', '=', role)
    .where('users.disabled', '=', 0)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
