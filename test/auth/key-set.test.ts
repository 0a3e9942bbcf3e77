/**
 * The ID-token key rings across processes: a ring one process creates for a client's algorithm
 * (ES256) is listed in every process's JWKS once it reloads (or at its next upkeep run).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTestApp, TEST_DATABASE_URL, type TestApp } from '../support/gatehouse.ts';

const algsOf = async (t: TestApp) =>
  ((await t.app.inject({ url: '/.well-known/jwks.json' })).json().keys as { alg: string }[])
    .map((key) => key.alg)
    .sort();

describe('ID-token key rings across processes', { skip: TEST_DATABASE_URL === undefined }, () => {
  test('an ES256 ring made by one process is found by another on reload and upkeep', async () => {
    const a = await createTestApp({ databaseUrl: TEST_DATABASE_URL });
    const b = await createTestApp({ databaseUrl: TEST_DATABASE_URL, sharePgSchemaOf: a, clock: a.clock });
    try {
      assert.deepEqual(await algsOf(b), ['EdDSA', 'RS256']);
      await a.gatehouse.keySet.ring('ES256');
      assert.deepEqual(await algsOf(a), ['ES256', 'EdDSA', 'RS256']);
      await b.gatehouse.runMaintenance();
      assert.deepEqual(await algsOf(b), ['ES256', 'EdDSA', 'RS256']);
      const c = await createTestApp({ databaseUrl: TEST_DATABASE_URL, sharePgSchemaOf: a, clock: a.clock });
      assert.deepEqual(await algsOf(c), ['ES256', 'EdDSA', 'RS256'], 'a process starting later lists it');
      await c.close();
    } finally {
      await b.close();
      await a.close();
    }
  });
});
