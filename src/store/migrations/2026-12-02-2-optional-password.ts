/**
 * `users.password_hash` may be null: an account without a password (claimed by the owner of its
 * mailbox, or created by a magic link) signs in by links until its owner sets one by reset.
 *
 * PostgreSQL drops the constraint. SQLite cannot alter a column, so the table is rebuilt from its
 * own stored definition with only this `not null` taken out (SQLite's documented procedure, with
 * foreign keys off so the tables that reference users keep their rows).
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

const REQUIRED = /"password_hash" text not null/i;

const isSqlite = (db: AnyDb) => db.getExecutor().adapter instanceof SqliteAdapter;

async function rebuildSqliteUsers(db: AnyDb, rewrite: (definition: string) => string): Promise<void> {
  // Kysely runs SQLite migrations outside a transaction, so the pragma takes effect here.
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ type: string; sql: string }>`
        select type, sql from sqlite_master where tbl_name = 'users' and sql is not null`.execute(trx);
      const table = rows.find((row) => row.type === 'table');
      if (table === undefined) throw new Error('users table not found');
      const definition = rewrite(table.sql).replace(/^create table "?users"?/i, 'create table "users_new"');
      await sql.raw(definition).execute(trx);
      await sql`insert into users_new select * from users`.execute(trx);
      await sql`drop table users`.execute(trx);
      await sql`alter table users_new rename to users`.execute(trx);
      for (const index of rows.filter((row) => row.type === 'index')) await sql.raw(index.sql).execute(trx);
      const broken = await sql`pragma foreign_key_check`.execute(trx);
      if (broken.rows.length > 0) throw new Error('foreign key check failed after rebuilding users');
    });
  } finally {
    await sql`pragma foreign_keys = on`.execute(db);
  }
}

export async function up(db: AnyDb): Promise<void> {
  if (isSqlite(db)) {
    await rebuildSqliteUsers(db, (definition) => definition.replace(REQUIRED, '"password_hash" text'));
  } else {
    await sql`alter table users alter column password_hash drop not null`.execute(db);
  }
}

export async function down(db: AnyDb): Promise<void> {
  // An account without a password gets one nobody knows: it signs in by links, as before.
  await db.updateTable('users').set({ password_hash: '!' }).where('password_hash', 'is', null).execute();
  if (isSqlite(db)) {
    await rebuildSqliteUsers(db, (definition) =>
      definition.replace(/"password_hash" text(?! not null)/i, '"password_hash" text not null'),
    );
  } else {
    await sql`alter table users alter column password_hash set not null`.execute(db);
  }
}
