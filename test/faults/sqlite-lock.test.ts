/**
 * SQLite shared by two processes (say `gatehouse serve` and a `gatehouse users …` command): a
 * write lock held past the statement timeout answers 503, not 500, and the next request succeeds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { createTestApp, PASSWORD } from '../support/gatehouse.ts';

describe('SQLite locked by another connection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a write that cannot get the lock within the timeout answers 503 Service unavailable; once released, it succeeds', async () => {
    const path = join(dir, 'gatehouse.db');
    const t = await createTestApp({
      databaseUrl: `sqlite:${path}`,
      env: { GATEHOUSE_DATABASE_STATEMENT_TIMEOUT: '1s' },
    });
    const other = new DatabaseSync(path);
    const register = () =>
      t.app.inject({
        method: 'POST',
        url: '/register',
        payload: { username: 'dave', email: 'dave@example.com', password: PASSWORD },
      });
    try {
      other.exec('begin immediate');
      const refused = await register();
      assert.equal(refused.statusCode, 503, refused.body);
      assert.deepEqual(refused.json(), { detail: 'Service unavailable' });
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.match(t.logs(), /"level":40,[^\n]*"reason":"SQLITE_BUSY"/);
      // Readers are not blocked by a writer in WAL mode.
      assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      other.exec('rollback');
      assert.equal((await register()).statusCode, 201);
    } finally {
      other.close();
      await t.close();
    }
  });
});
