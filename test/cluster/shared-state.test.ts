/**
 * Two Gatehouse instances on one PostgreSQL schema and one Redis, in one test process: what one
 * changes, the other enforces within a second; with Redis cut, nothing becomes laxer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createTestApp,
  login,
  PASSWORD,
  registerUser,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestApp,
  uniqueRedisPrefix,
} from '../support/gatehouse.ts';
import { eventually, startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const skip = TEST_DATABASE_URL === undefined || TEST_REDIS_URL === undefined;
const redisTarget = new URL(TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

async function pair(env: Record<string, string>, redisUrl = TEST_REDIS_URL ?? '') {
  const shared = { GATEHOUSE_REDIS_URL: redisUrl, GATEHOUSE_REDIS_PREFIX: uniqueRedisPrefix(), ...env };
  const a = await createTestApp({ databaseUrl: TEST_DATABASE_URL, env: shared });
  const b = await createTestApp({ databaseUrl: TEST_DATABASE_URL, env: shared, sharePgSchemaOf: a });
  return { a, b };
}

const whoami = (t: TestApp, token: string) =>
  t.app.inject({ method: 'GET', url: '/protected', headers: { authorization: `Bearer ${token}` } });

const logout = (t: TestApp, token: string) =>
  t.app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${token}` } });

describe('two processes sharing PostgreSQL and Redis', { skip }, () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    ({ a, b } = await pair({}));
    assert.ok(a.gatehouse.redis?.isHealthy() && b.gatehouse.redis?.isHealthy(), 'both linked at start');
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  test('a logout on one is enforced by the other within 1 s', async () => {
    await registerUser(a.app, 'alice');
    const token = await login(b.app, 'alice');
    assert.equal((await whoami(a, token)).statusCode, 200);
    assert.equal((await logout(b, token)).statusCode, 204);
    await eventually(async () => (await whoami(a, token)).statusCode === 401, 1000, 'A refuses the token');
    // Not through a database fallback: A's own in-memory set has it, and A is complete.
    assert.equal(a.gatehouse.revocation.isComplete(), true);
  });

  test('a role edited on one changes permissions on the other within 1 s', async () => {
    await registerUser(a.app, 'bob');
    const admin = await registerUser(a.app, 'carol');
    await a.gatehouse.accounts.setRoles(admin.id, ['user', 'admin']);
    // A narrowed token grants only what it carries: audit:read too (the privilege ceiling).
    const adminToken = await login(a.app, 'carol', PASSWORD, 'roles:write audit:read');
    const created = await a.app.inject({
      method: 'POST',
      url: '/roles',
      headers: { authorization: `Bearer ${adminToken}` },
      payload: { name: 'auditor', description: 'Reads the audit log', permissions: ['audit:read'] },
    });
    assert.equal(created.statusCode, 201, created.body);
    await eventually(
      () => b.gatehouse.roles.permissionsOf(['auditor']).has('audit:read'),
      1000,
      'B knows the new role',
    );
    const edited = await a.app.inject({
      method: 'PATCH',
      url: '/roles/auditor',
      headers: { authorization: `Bearer ${adminToken}` },
      payload: { permissions: [] },
    });
    assert.equal(edited.statusCode, 200, edited.body);
    await eventually(
      () => !b.gatehouse.roles.permissionsOf(['auditor']).has('audit:read'),
      1000,
      'B drops the permission',
    );
  });

  test('a key rotated on one is published in the other one’s JWKS and verifies there within 1 s', async () => {
    const kid = await a.gatehouse.keys.rotate();
    const jwks = async () =>
      (await b.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as {
        keys: { kid: string }[];
      };
    await eventually(async () => (await jwks()).keys.some((key) => key.kid === kid), 1000, 'B publishes it');
    await registerUser(a.app, 'dave');
    const token = await login(a.app, 'dave');
    assert.equal((await whoami(b, token)).statusCode, 200, 'B verifies a token signed with the new key');
  });

  test('a user disabled on one is refused by the other at once', async () => {
    const erin = await registerUser(a.app, 'erin');
    const token = await login(a.app, 'erin');
    await b.gatehouse.accounts.setDisabled(erin.id, true);
    const refused = await whoami(a, token);
    assert.ok(refused.statusCode === 401 || refused.statusCode === 400, String(refused.statusCode));
  });
});

describe('per-IP limits shared through Redis', { skip }, () => {
  test('requests to either process count against one budget', async () => {
    const { a, b } = await pair({ GATEHOUSE_RATE_LIMIT_TOKEN: '4/1m' });
    try {
      const attempt = (t: TestApp) =>
        t.app.inject({
          method: 'POST',
          url: '/token',
          remoteAddress: '203.0.113.9',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'username=nobody&password=wrong+password+here',
        });
      const statuses = [];
      for (const t of [a, b, a, b, a, b]) statuses.push((await attempt(t)).statusCode);
      assert.deepEqual(statuses, [401, 401, 401, 401, 429, 429]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('Redis cut', { skip }, () => {
  let proxy: TcpProxy;
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    proxy = await startTcpProxy(redisTarget.hostname, Number(redisTarget.port || 6379));
    ({ a, b } = await pair(
      { GATEHOUSE_RATE_LIMIT_TOKEN: '2/1m' },
      `redis://127.0.0.1:${proxy.port}${redisTarget.pathname}`,
    ));
  });
  after(async () => {
    await b.close();
    await a.close();
    await proxy.close();
  });

  test('revocation falls back to the database, limits to memory, and both come back with Redis', async () => {
    await registerUser(a.app, 'frank');
    const before1 = await login(a.app, 'frank');
    const during = await login(a.app, 'frank');

    proxy.cut();
    await eventually(
      () => !a.gatehouse.revocation.isComplete() && !b.gatehouse.revocation.isComplete(),
      2000,
      'both notice Redis is gone',
    );
    assert.match(b.logs(), /Redis unavailable/);

    // A logout that Redis cannot carry is still enforced by B on the very next request.
    assert.equal((await logout(a, during)).statusCode, 204);
    assert.equal((await whoami(b, during)).statusCode, 401);
    assert.equal((await whoami(b, before1)).statusCode, 200, 'other sessions unaffected');

    // Rate limits still hold, per process, from memory.
    const attempt = (t: TestApp) =>
      t.app.inject({
        method: 'POST',
        url: '/token',
        remoteAddress: '203.0.113.10',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'username=nobody&password=wrong+password+here',
      });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await attempt(b)).statusCode);
    assert.deepEqual(statuses, [401, 401, 429]);

    proxy.restore();
    await eventually(
      () => a.gatehouse.revocation.isComplete() && b.gatehouse.revocation.isComplete(),
      5000,
      'both linked again',
    );
    assert.match(b.logs(), /Redis reachable again/);
    // B resynced from the database: the logout made during the outage is in its memory now.
    const sid = JSON.parse(Buffer.from(during.split('.')[1] ?? '', 'base64url').toString()).sid;
    assert.equal(b.gatehouse.revocation.isSessionRevoked(sid), true);
    // And events flow again.
    assert.equal((await logout(b, before1)).statusCode, 204);
    await eventually(async () => (await whoami(a, before1)).statusCode === 401, 1000, 'A refuses it');
  });
});
