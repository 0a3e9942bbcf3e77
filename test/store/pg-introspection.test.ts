/**
 * The migrator's introspection on PostgreSQL reads only the app's own schema: another schema on
 * the same database, dropped by another deployment or test run while the migrator looks for its
 * tables, must not fail our start-up with `schema "…" does not exist`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, TEST_DATABASE_URL } from '../support/gatehouse.ts';

describe('PostgreSQL introspection', { skip: TEST_DATABASE_URL === undefined }, () => {
  test("a schema dropped by someone else while the migrator's introspection reads does not fail it", async () => {
    const t = await createTestApp({ databaseUrl: TEST_DATABASE_URL });
    const store = t.gatehouse.store;
    const other = `gh_test_${randomBytes(6).toString('hex')}`;
    try {
      await sql`create schema ${sql.id(other)}`.execute(store.db);
      await sql`create table ${sql.id(other, 'kysely_migration')} (name text)`.execute(store.db);
      const tables = await store.withoutTimeouts((db) =>
        db
          .transaction()
          .setIsolationLevel('repeatable read')
          .execute(async (trx) => {
            // The snapshot is taken here and still lists the other schema after it is dropped,
            // as a long catalog scan does when the drop lands during it.
            await sql`select 1`.execute(trx);
            await sql`drop schema ${sql.id(other)} cascade`.execute(store.db);
            return trx.introspection.getTables({ withInternalKyselyTables: true });
          }),
      );
      const names = tables.map((table) => `${table.schema}.${table.name}`);
      assert.ok(names.includes(`${t.pgSchema}.kysely_migration`), names.join(', '));
      assert.ok(names.includes(`${t.pgSchema}.users`), names.join(', '));
      assert.deepEqual(
        names.filter((name) => !name.startsWith(`${t.pgSchema}.`)),
        [],
      );
      const users = tables.find((table) => table.name === 'users');
      assert.equal(users?.columns.find((column) => column.name === 'password_hash')?.isNullable, true);
    } finally {
      await sql`drop schema if exists ${sql.id(other)} cascade`.execute(store.db);
      await t.close();
    }
  });
});
