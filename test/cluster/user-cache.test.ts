/**
 * Two instances on one PostgreSQL schema and one Redis, each caching users for its request path:
 * a user changed on one is seen as changed by the other within a second, and while Redis is cut
 * the cache is not trusted at all. The test clocks never move, so a cached user would otherwise
 * never expire: only the `users-changed` events (or the bypass) can make these tests pass.
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

async function pair(redisUrl: string) {
  const shared = { GATEHOUSE_REDIS_URL: redisUrl, GATEHOUSE_REDIS_PREFIX: uniqueRedisPrefix() };
  const a = await createTestApp({ databaseUrl: TEST_DATABASE_URL, env: shared });
  const b = await createTestApp({ databaseUrl: TEST_DATABASE_URL, env: shared, sharePgSchemaOf: a });
  return { a, b };
}

const get = (t: TestApp, url: string, headers: Record<string, string>) =>
  t.app.inject({ method: 'GET', url, headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A user holding admin, and a token asking for users:read: allowed only while they hold it. */
async function adminReader(a: TestApp, username: string) {
  const user = await registerUser(a.app, username);
  await a.gatehouse.accounts.setRoles(user.id, ['user', 'admin']);
  return { id: user.id, token: await login(a.app, username, PASSWORD, 'users:read') };
}

describe('cached users across two processes', { skip }, () => {
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    ({ a, b } = await pair(TEST_REDIS_URL ?? ''));
    assert.ok(a.gatehouse.redis?.isHealthy() && b.gatehouse.redis?.isHealthy(), 'both linked at start');
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  test('a role removed on one is enforced by the other within 1 s', async () => {
    const { id, token } = await adminReader(a, 'grace');
    assert.equal((await get(b, '/users', bearer(token))).statusCode, 200, 'B caches grace as admin');
    await a.gatehouse.accounts.setRoles(id, ['user']);
    await eventually(
      async () => (await get(b, '/users', bearer(token))).statusCode === 403,
      1000,
      'B refuses users:read',
    );
  });

  test('a user disabled on one has their API key refused by the other within 1 s', async () => {
    const heidi = await registerUser(a.app, 'heidi');
    const token = await login(a.app, 'heidi');
    const created = await a.app.inject({
      method: 'POST',
      url: '/api-keys',
      headers: bearer(token),
      payload: { name: 'k', scopes: ['profile:read'] },
    });
    const { key } = created.json();
    assert.equal((await get(b, '/users/me', { 'x-api-key': key })).statusCode, 200, 'B caches heidi');
    await a.gatehouse.accounts.setDisabled(heidi.id, true);
    await eventually(
      async () => (await get(b, '/users/me', { 'x-api-key': key })).statusCode === 400,
      1000,
      'B refuses the key of a disabled user',
    );
  });

  test('a user deleted on one is refused by the other within 1 s', async () => {
    await adminReader(a, 'ivan');
    const judy = await registerUser(a.app, 'judy');
    const token = await login(a.app, 'judy');
    assert.equal((await get(b, '/users/me', bearer(token))).statusCode, 200, 'B caches judy');
    const deleted = await a.app.inject({
      method: 'DELETE',
      url: `/users/${judy.id}`,
      // A narrowed token changes only users whose permissions it carries (the privilege ceiling).
      headers: bearer(await login(a.app, 'ivan', PASSWORD, 'users:write profile:read profile:write')),
    });
    assert.equal(deleted.statusCode, 204, deleted.body);
    await eventually(
      async () => (await get(b, '/users/me', bearer(token))).statusCode === 401,
      1000,
      'B refuses the deleted user',
    );
  });

  test('a profile changed on one shows on the other within 1 s', async () => {
    await adminReader(a, 'kate');
    const writer = await login(a.app, 'kate', PASSWORD, 'users:write profile:read profile:write');
    const leo = await registerUser(a.app, 'leo', { full_name: 'Leo' });
    const token = await login(a.app, 'leo');
    assert.equal((await get(b, '/users/me', bearer(token))).json().full_name, 'Leo');
    const patched = await a.app.inject({
      method: 'PATCH',
      url: `/users/${leo.id}`,
      headers: bearer(writer),
      payload: { full_name: 'Leonard' },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    await eventually(
      async () => (await get(b, '/users/me', bearer(token))).json().full_name === 'Leonard',
      1000,
      'B shows the new name',
    );
  });
});

describe('cached users while Redis is cut', { skip }, () => {
  let proxy: TcpProxy;
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    proxy = await startTcpProxy(redisTarget.hostname, Number(redisTarget.port || 6379));
    ({ a, b } = await pair(`redis://127.0.0.1:${proxy.port}${redisTarget.pathname}`));
  });
  after(async () => {
    await b.close();
    await a.close();
    await proxy.close();
  });

  test('the cache is bypassed while the link is down, and trusted again once it is back', async () => {
    const { id, token } = await adminReader(a, 'mallory');
    assert.equal((await get(b, '/users', bearer(token))).statusCode, 200, 'B caches mallory as admin');

    proxy.cut();
    await eventually(
      () => !a.gatehouse.redis?.isHealthy() && !b.gatehouse.redis?.isHealthy(),
      2000,
      'both notice Redis is gone',
    );
    // The event cannot reach B, yet B refuses on the very next request: it reads the database.
    await a.gatehouse.accounts.setRoles(id, ['user']);
    assert.equal((await get(b, '/users', bearer(token))).statusCode, 403);
    // Nor does B remember what it read during the outage.
    await a.gatehouse.accounts.setRoles(id, ['user', 'admin']);
    assert.equal((await get(b, '/users', bearer(token))).statusCode, 200);

    proxy.restore();
    await eventually(
      () => Boolean(a.gatehouse.redis?.isHealthy() && b.gatehouse.redis?.isHealthy()),
      5000,
      'both linked again',
    );
    assert.equal((await get(b, '/users', bearer(token))).statusCode, 200, 'B caches mallory again');
    await a.gatehouse.accounts.setRoles(id, ['user']);
    await eventually(
      async () => (await get(b, '/users', bearer(token))).statusCode === 403,
      1000,
      'events flow again',
    );
  });
});
