/** GATEHOUSE_SQLITE_SYNCHRONOUS reaches the database file's connection: NORMAL by default, FULL when asked. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createTestApp } from '../support/gatehouse.ts';

describe('SQLite synchronous setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sync-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  // SQLite reports synchronous as a number: 1 NORMAL, 2 FULL.
  for (const [setting, expected] of [
    [undefined, 1],
    ['normal', 1],
    ['full', 2],
  ] as const) {
    test(`${setting ?? 'unset'} → PRAGMA synchronous = ${expected}, in WAL mode`, async () => {
      const t = await createTestApp({
        databaseUrl: `sqlite:${join(dir, `${setting ?? 'default'}.db`)}`,
        env: setting ? { GATEHOUSE_SQLITE_SYNCHRONOUS: setting } : {},
      });
      try {
        const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(t.gatehouse.store.db);
        assert.equal(sync.rows[0]?.synchronous, expected);
        const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(t.gatehouse.store.db);
        assert.equal(mode.rows[0]?.journal_mode, 'wal');
      } finally {
        await t.close();
      }
    });
  }

  test('another value is refused at start', async () => {
    await assert.rejects(
      createTestApp({ env: { GATEHOUSE_SQLITE_SYNCHRONOUS: 'off' } }),
      /GATEHOUSE_SQLITE_SYNCHRONOUS must be one of normal, full/,
    );
  });
});
