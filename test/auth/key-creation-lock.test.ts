/**
 * Processes starting together on an empty database, or finding their key due at the same minute,
 * must not each create a signing key: creation and rotation check again under a lock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { createManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createGatehouse } from '../../src/gatehouse.ts';
import { FAST_ARGON2, NO_RATE_LIMITS, TEST_DATABASE_URL } from '../support/gatehouse.ts';

describe('signing-key creation across processes', { skip: TEST_DATABASE_URL === undefined }, () => {
  test('two instances starting at once on an empty schema create exactly one key, and a due key is rotated once', async () => {
    const config = loadConfig({
      GATEHOUSE_DATABASE_URL: TEST_DATABASE_URL ?? '',
      GATEHOUSE_ISSUER: 'http://gatehouse.test',
      ...FAST_ARGON2,
      ...NO_RATE_LIMITS,
    });
    const pgSchema = `gh_test_${randomBytes(6).toString('hex')}`;
    const clock = createManualClock(Date.now());
    const [a, b] = await Promise.all([
      createGatehouse(config, { pgSchema, clock }),
      createGatehouse(config, { pgSchema, clock }),
    ]);
    try {
      const keys = (alg = config.jwtAlg) =>
        a.store.db.selectFrom('signing_keys').select(['kid', 'state']).where('alg', '=', alg).execute();
      const first = await keys();
      assert.equal(first.length, 1, 'one key for two starts');
      assert.equal((await keys('RS256')).length, 1, 'one ID-token key for two starts');
      assert.equal(first[0]?.state, 'active');
      assert.equal(a.keys.activeKey().kid, first[0]?.kid);
      assert.equal(b.keys.activeKey().kid, first[0]?.kid);

      clock.advance(91 * 86_400_000);
      const rotated = await Promise.all([a.keys.rotateIfOlderThan(90), b.keys.rotateIfOlderThan(90)]);
      assert.equal(rotated.filter((kid) => kid !== undefined).length, 1, 'one of the two rotated');
      const after = await keys();
      assert.equal(after.length, 2);
      assert.equal(after.filter((key) => key.state === 'active').length, 1);
      await b.keys.reload();
      assert.equal(a.keys.activeKey().kid, b.keys.activeKey().kid);
    } finally {
      await sql`drop schema if exists ${sql.id(pgSchema)} cascade`.execute(a.store.db);
      await a.close();
      await b.close();
    }
  });
});
