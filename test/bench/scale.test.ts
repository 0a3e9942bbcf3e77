/**
 * The scale run's logic at a tiny size (2,000 users, 1 s runs): it creates and drops its own
 * databases, bulk-inserts users that can log in and whose tokens are accepted, drives real
 * `gatehouse serve` processes, and reports every run. Figures are not judged here.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { runScaleBench } from '../../bench/scale.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/gatehouse.ts';

const skip = TEST_DATABASE_URL === undefined || TEST_REDIS_URL === undefined;

async function benchDatabases(): Promise<string[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "select datname from pg_database where datname like 'gh_bench_%'",
    );
    return rows.map((row) => row.datname);
  } finally {
    await client.end();
  }
}

describe('the scale run', { skip }, () => {
  test('completes at a tiny size with a result for every run, every request answered 2xx', async () => {
    const before = await benchDatabases();
    const results = await runScaleBench({
      users: 2000,
      durationSeconds: 1,
      adminDatabaseUrl: TEST_DATABASE_URL ?? '',
      redisUrl: TEST_REDIS_URL ?? '',
      argon2: { memoryKib: 1024, iterations: 1 },
    });
    assert.deepEqual(
      { small: results.users.small, large: results.users.large },
      { small: 1000, large: 2000 },
    );
    assert.ok(results.users.insertSmallMs > 0 && results.users.insertLargeMs > 0);
    const expected = [
      'trivial',
      'whoamiHotSmall',
      'whoamiHotLarge',
      'whoamiColdSmall',
      'whoamiColdLarge',
      'whoamiColdLargeWide',
      'whoamiHotLargeNoUserCache',
      'whoamiColdSmallNoUserCache',
      'whoamiColdLargeNoUserCache',
      'whoamiTwoProcesses',
      'loginOneProcess',
      'loginTwoProcesses',
    ];
    assert.deepEqual(Object.keys(results.runs), expected);
    for (const [name, run] of Object.entries(results.runs)) {
      // Bulk users log in and their minted tokens are accepted: ids and hashes are right.
      assert.ok(run.requests > 0, `${name} ran`);
      assert.equal(run.non2xx, 0, `${name} answered 2xx`);
      assert.equal(run.errors, 0, `${name} had no connection errors`);
      for (const value of [run.rps, run.p50, run.p99]) assert.ok(Number.isFinite(value), name);
    }
    for (const [name, value] of Object.entries(results.ratios)) assert.ok(Number.isFinite(value), name);
    for (const target of Object.values(results.targets)) {
      assert.equal(typeof target.met, 'boolean');
      assert.ok(Number.isFinite(target.ratio));
    }
    // Only this run's own: other runs on the same server create and drop theirs meanwhile.
    assert.equal(results.databases.length, 2);
    assert.ok(results.databases.every((name) => !before.includes(name)));
    const left = (await benchDatabases()).filter((name) => results.databases.includes(name));
    assert.deepEqual(left, [], 'its databases are dropped afterwards');
  });
});
