import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { listAuditEvents } from '../../src/store/audit.ts';
import { createTestApp, DATABASES, login, registerUser, type TestApp } from '../support/gatehouse.ts';

const me = (t: TestApp, token: string) =>
  t.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${token}` } });

/** The access-token keys of the JWKS (the ID-token RS256 key is listed too, and rotates on its own). */
const jwks = async (t: TestApp) => {
  const { keys } = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  return { keys: keys.filter((key: { alg: string }) => key.alg === t.config.jwtAlg) };
};

for (const database of DATABASES) {
  describe(`signing-key rotation on ${database.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      await registerUser(t.app, 'alice');
    });
    after(() => t.close());

    test('tokens from the old and the new key both verify while in flight; the old key leaves the JWKS after its tokens expire', async () => {
      const oldToken = await login(t.app, 'alice');
      const oldKid = decodeProtectedHeader(oldToken).kid;
      const newKid = await t.gatehouse.keys.rotate();
      assert.notEqual(newKid, oldKid);
      const newToken = await login(t.app, 'alice');
      assert.equal(decodeProtectedHeader(newToken).kid, newKid);

      assert.equal((await me(t, oldToken)).statusCode, 200);
      assert.equal((await me(t, newToken)).statusCode, 200);
      const published = await jwks(t);
      assert.deepEqual(
        published.keys.map((k: { kid: string }) => k.kid),
        [newKid, oldKid],
      );
      // Verifiers that fetch the JWKS accept both tokens as well.
      const keySet = createLocalJWKSet(published);
      for (const token of [oldToken, newToken]) {
        await jwtVerify(token, keySet, {
          issuer: 'http://gatehouse.test',
          audience: 'http://gatehouse.test',
          algorithms: ['EdDSA'],
        });
      }
      const states = Object.fromEntries((await t.gatehouse.keys.list()).map((k) => [k.kid, k.state]));
      assert.deepEqual(states, { [newKid]: 'active', [String(oldKid)]: 'retired' });

      t.clock.advance((900 + 30) * 1000 + 1);
      assert.deepEqual(
        (await jwks(t)).keys.map((k: { kid: string }) => k.kid),
        [newKid],
      );
      assert.equal(t.gatehouse.keys.findVerificationKey(String(oldKid)), undefined);
      assert.equal((await t.gatehouse.keys.list()).find((k) => k.kid === oldKid)?.state, 'expired');
      assert.equal((await me(t, await login(t.app, 'alice'))).statusCode, 200);
      const audit = await listAuditEvents(t.gatehouse.store.db, { event: 'key.rotated' });
      assert.ok(audit.some((e) => e.details?.kid === newKid));
    });

    test('maintenance rotates a key older than GATEHOUSE_KEY_ROTATION_DAYS and not a younger one', async () => {
      const before = t.gatehouse.keys.activeKey().kid;
      await t.gatehouse.runMaintenance();
      assert.equal(t.gatehouse.keys.activeKey().kid, before);
      t.clock.advance(91 * 86_400_000);
      await t.gatehouse.runMaintenance();
      assert.notEqual(t.gatehouse.keys.activeKey().kid, before);
    });
  });
}

describe('keys rotated by another process', () => {
  test('a key rotated through a second instance is picked up by the first at its next maintenance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
    const url = `sqlite:${join(dir, 'keys.db')}`;
    const a = await createTestApp({ databaseUrl: url });
    const b = await createTestApp({ databaseUrl: url });
    try {
      await registerUser(a.app, 'alice');
      const rotated = await b.gatehouse.keys.rotate();
      const tokenFromB = await login(b.app, 'alice');
      assert.equal((await me(a, tokenFromB)).statusCode, 401, 'unknown to A until it reloads');
      await a.gatehouse.runMaintenance();
      assert.equal((await me(a, tokenFromB)).statusCode, 200);
      assert.equal(a.gatehouse.keys.activeKey().kid, rotated, 'A signs with the new key too');
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
