import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OverloadedError } from '../../src/auth/errors.ts';
import { ConcurrencyLimiter } from '../../src/auth/passwords.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestApp, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

const form = (username: string, password: string) => new URLSearchParams({ username, password }).toString();

async function withApp(env: Record<string, string>, run: (t: TestApp) => Promise<void>, realArgon2 = false) {
  const t = await createTestApp({ env, realArgon2 });
  try {
    await run(t);
  } finally {
    await t.close();
  }
}

const tokenRequest = (t: TestApp, remoteAddress: string, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: form('alice', 'wrong password'),
  });

describe('per-IP rate limits', () => {
  test('over the limit, /token answers 429 Too many requests with Retry-After, checks no password and audits nothing', async () => {
    await withApp({ GATEHOUSE_RATE_LIMIT_TOKEN: '3/1m' }, async (t) => {
      await registerUser(t.app, 'alice');
      for (let i = 0; i < 3; i++) assert.equal((await tokenRequest(t, '198.51.100.7')).statusCode, 401);
      const audited = async () =>
        (
          await t.gatehouse.store.db
            .selectFrom('audit_events')
            .select('event')
            .where('event', '=', 'login.failed')
            .execute()
        ).length;
      const before = await audited();
      const limited = await tokenRequest(t, '198.51.100.7');
      assert.equal(limited.statusCode, 429);
      assert.deepEqual(limited.json(), { detail: 'Too many requests' });
      const retryAfter = Number(limited.headers['retry-after']);
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
        `Retry-After ${retryAfter}`,
      );
      assert.equal(await audited(), before, 'a refused request never reaches the password check');
      // Even the right password is refused while limited; another client is not affected.
      const right = await t.app.inject({
        method: 'POST',
        url: '/token',
        remoteAddress: '198.51.100.7',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form('alice', PASSWORD),
      });
      assert.equal(right.statusCode, 429);
      assert.equal((await tokenRequest(t, '198.51.100.8')).statusCode, 401);
    });
  });

  test('a spoofed X-Forwarded-For is ignored when no proxy is trusted', async () => {
    await withApp({ GATEHOUSE_RATE_LIMIT_TOKEN: '2/1m' }, async (t) => {
      for (let i = 0; i < 2; i++) {
        await tokenRequest(t, '198.51.100.7', { 'x-forwarded-for': `203.0.113.${i}` });
      }
      const spoofed = await tokenRequest(t, '198.51.100.7', { 'x-forwarded-for': '203.0.113.99' });
      assert.equal(spoofed.statusCode, 429);
    });
  });

  test('behind a trusted proxy, each client named by X-Forwarded-For has its own budget', async () => {
    await withApp({ GATEHOUSE_RATE_LIMIT_TOKEN: '2/1m', GATEHOUSE_TRUST_PROXY: '10.0.0.1' }, async (t) => {
      const viaProxy = (client: string) => tokenRequest(t, '10.0.0.1', { 'x-forwarded-for': client });
      assert.equal((await viaProxy('203.0.113.5')).statusCode, 401);
      assert.equal((await viaProxy('203.0.113.5')).statusCode, 401);
      assert.equal((await viaProxy('203.0.113.5')).statusCode, 429);
      assert.equal((await viaProxy('203.0.113.6')).statusCode, 401, 'another client behind the proxy');
      // A host that is not the trusted proxy cannot pick its address by header.
      const direct = (client: string) => tokenRequest(t, '10.0.0.9', { 'x-forwarded-for': client });
      assert.equal((await direct('203.0.113.7')).statusCode, 401);
      assert.equal((await direct('203.0.113.8')).statusCode, 401);
      assert.equal((await direct('203.0.113.9')).statusCode, 429);
    });
  });

  test('/register, /login and /protected/basic have their own limits; "off" turns one off', async () => {
    await withApp(
      {
        GATEHOUSE_RATE_LIMIT_REGISTER: '1/1h',
        GATEHOUSE_RATE_LIMIT_LOGIN: '1/1m',
        GATEHOUSE_RATE_LIMIT_BASIC: '1/1m',
      },
      async (t) => {
        const register = (username: string) =>
          t.app.inject({
            method: 'POST',
            url: '/register',
            remoteAddress: '198.51.100.7',
            payload: { username, email: `${username}@example.com`, password: PASSWORD },
          });
        assert.equal((await register('first')).statusCode, 201);
        const second = await register('second');
        assert.equal(second.statusCode, 429);
        assert.ok(Number(second.headers['retry-after']) > 60, 'an hour-long window');
        const users = await t.gatehouse.store.db.selectFrom('users').select('username').execute();
        assert.deepEqual(
          users.map((u) => u.username),
          ['first'],
          'a limited registration creates nothing',
        );

        const loginPage = () =>
          t.app.inject({
            method: 'POST',
            url: '/login',
            remoteAddress: '198.51.100.7',
            payload: { username: 'first', password: 'wrong password' },
          });
        assert.equal((await loginPage()).statusCode, 401);
        assert.equal((await loginPage()).statusCode, 429);

        const basic = () =>
          t.app.inject({
            method: 'GET',
            url: '/protected/basic',
            remoteAddress: '198.51.100.7',
            headers: { authorization: `Basic ${Buffer.from(`first:${PASSWORD}`).toString('base64')}` },
          });
        assert.equal((await basic()).statusCode, 200);
        assert.equal((await basic()).statusCode, 429);
        // /token's limit is off in this app.
        for (let i = 0; i < 5; i++) assert.equal((await tokenRequest(t, '198.51.100.7')).statusCode, 401);
      },
    );
  });

  test('bad limit settings are refused at start', () => {
    for (const value of ['10', '0/1m', 'x/1m', '10/soon', '10/-1s']) {
      assert.throws(() => loadConfig({ GATEHOUSE_RATE_LIMIT_TOKEN: value }), /GATEHOUSE_RATE_LIMIT_TOKEN/);
    }
    assert.throws(
      () => loadConfig({ GATEHOUSE_TRUST_PROXY: '10.0.0.1, not-an-ip' }),
      /GATEHOUSE_TRUST_PROXY/,
    );
    assert.deepEqual(loadConfig({ GATEHOUSE_RATE_LIMIT_TOKEN: '5/15m' }).rateLimitToken, {
      points: 5,
      durationSeconds: 900,
    });
    assert.deepEqual(loadConfig({ GATEHOUSE_TRUST_PROXY: '10.0.0.0/8, loopback' }).trustProxy, [
      '10.0.0.0/8',
      'loopback',
    ]);
  });
});

describe('bounded password hashing', () => {
  test('with the queue full, a new task is refused with OverloadedError instead of waiting', async () => {
    const limiter = new ConcurrencyLimiter(1, 1);
    let release = () => {};
    const running = limiter.run(() => new Promise<string>((resolve) => (release = () => resolve('first'))));
    const waiting = limiter.run(async () => 'second');
    await assert.rejects(
      limiter.run(async () => 'third'),
      OverloadedError,
    );
    release();
    assert.deepEqual(await Promise.all([running, waiting]), ['first', 'second']);
    assert.equal(await limiter.run(async () => 'after'), 'after', 'room again once the queue drains');
  });

  test('a login flood gets 503 Service unavailable with Retry-After, never a 500, and registrations create nothing', async () => {
    await withApp(
      { GATEHOUSE_HASH_CONCURRENCY: '1', GATEHOUSE_HASH_QUEUE_MAX: '1' },
      async (t) => {
        await registerUser(t.app, 'alice');
        const responses = await Promise.all(
          Array.from({ length: 8 }, () =>
            t.app.inject({
              method: 'POST',
              url: '/token',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              payload: form('alice', PASSWORD),
            }),
          ),
        );
        const statuses = responses.map((r) => r.statusCode).sort();
        assert.ok(statuses.includes(200), `some logins succeed: ${statuses}`);
        assert.ok(statuses.includes(503), `the rest are refused: ${statuses}`);
        assert.deepEqual([...new Set(statuses)], [200, 503]);
        const refused = responses.find((r) => r.statusCode === 503);
        assert.deepEqual(refused?.json(), { detail: 'Service unavailable' });
        assert.equal(refused?.headers['retry-after'], '1');

        const registrations = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            t.app.inject({
              method: 'POST',
              url: '/register',
              payload: { username: `flood${i}`, email: `flood${i}@example.com`, password: PASSWORD },
            }),
          ),
        );
        const created = registrations.filter((r) => r.statusCode === 201).length;
        assert.ok(registrations.some((r) => r.statusCode === 503));
        const stored = await t.gatehouse.store.db
          .selectFrom('users')
          .select('username')
          .where('username', 'like', 'flood%')
          .execute();
        assert.equal(stored.length, created, 'only the 201s exist');
      },
      true,
    );
  });
});
