/**
 * `GET /metrics`: Prometheus text that moves by exactly the traffic made, labelled by route
 * pattern and outcome; the database and Redis checked at scrape time; the token; one registry
 * per Gatehouse.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { gatehouse } from '../../src/index.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestApp,
  uniqueRedisPrefix,
} from '../support/gatehouse.ts';
import { mailTo, startSmtpServer, tokenFrom } from '../support/smtp.ts';
import { eventually, startTcpProxy } from '../support/tcp-proxy.ts';

type Samples = Map<string, number>;

const sampleKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

/** Prometheus text format 0.0.4: `name{label="value",…} value` lines; comments skipped. */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k ?? ''] = v ?? '';
    }
    samples.set(sampleKey(match[1] ?? '', labels), Number(match[3]));
  }
  return samples;
}

const value = (samples: Samples, name: string, labels: Record<string, string> = {}) =>
  samples.get(sampleKey(name, labels));

/** What counted up between two scrapes: counters and histogram counts of Gatehouse itself. */
function counted(before: Samples, after: Samples): Record<string, number> {
  const moved: Record<string, number> = {};
  for (const [key, now] of after) {
    const counter = /^gatehouse_[a-z_]+(_total|_seconds_count)\{/.test(key);
    if (!counter || /^gatehouse_(process|nodejs)_/.test(key)) continue;
    const delta = now - (before.get(key) ?? 0);
    if (delta !== 0) moved[key] = delta;
  }
  return moved;
}

async function scrape(app: FastifyInstance, headers: Record<string, string> = {}): Promise<Samples> {
  const response = await app.inject({ method: 'GET', url: '/metrics', headers });
  assert.equal(response.statusCode, 200, response.body);
  return parseMetrics(response.body);
}

const form = (payload: Record<string, string>, remoteAddress?: string) => ({
  method: 'POST' as const,
  url: '/token',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(payload).toString(),
  ...(remoteAddress ? { remoteAddress } : {}),
});

for (const database of DATABASES) {
  describe(`metrics after traffic (${database.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({
        databaseUrl: database.url,
        env: { GATEHOUSE_RATE_LIMIT_LOGIN: '1/1m' },
      });
    });
    after(() => t.close());

    test('counters move by exactly the requests made, labelled by route pattern and outcome', async () => {
      const alice = await registerUser(t.app, 'alice');
      const bob = await registerUser(t.app, 'bob');
      const carol = await registerUser(t.app, 'carol');
      await t.gatehouse.accounts.setRoles(carol.id, ['user', 'admin']);
      await t.gatehouse.accounts.setDisabled(bob.id, true);
      const admin = await login(t.app, 'carol');
      const asAdmin = { authorization: `Bearer ${admin}` };
      const strangerId = randomUUID();
      const baseline = await scrape(t.app);

      for (const id of [alice.id, alice.id, strangerId]) {
        await t.app.inject({ method: 'GET', url: `/users/${id}`, headers: asAdmin });
      }
      assert.equal((await t.app.inject({ method: 'GET', url: `/no/such/${alice.id}` })).statusCode, 404);
      const issued = await t.app.inject(form({ username: 'alice', password: PASSWORD }));
      assert.equal(issued.statusCode, 200);
      assert.equal(
        (await t.app.inject(form({ username: 'alice', password: 'wrong password' }))).statusCode,
        401,
      );
      assert.equal(
        (await t.app.inject(form({ username: 'nobody', password: 'wrong password' }))).statusCode,
        401,
      );
      assert.equal((await t.app.inject(form({ username: 'bob', password: PASSWORD }))).statusCode, 400);
      const cookieLogin = (password: string, remoteAddress?: string) =>
        t.app.inject({
          method: 'POST',
          url: '/login',
          payload: { username: 'alice', password },
          ...(remoteAddress ? { remoteAddress } : {}),
        });
      assert.equal((await cookieLogin(PASSWORD)).statusCode, 200);
      assert.equal((await cookieLogin('wrong password', '203.0.113.7')).statusCode, 401);
      assert.equal((await cookieLogin(PASSWORD, '203.0.113.7')).statusCode, 429);
      const first = issued.json().refresh_token;
      const refreshed = await t.app.inject(form({ grant_type: 'refresh_token', refresh_token: first }));
      assert.equal(refreshed.statusCode, 200);
      t.clock.advance(11_000); // past the 10 s grace: the spent token is now taken as stolen
      const reused = await t.app.inject(form({ grant_type: 'refresh_token', refresh_token: first }));
      assert.equal(reused.statusCode, 400);

      const response = await t.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.headers['content-type'], t.gatehouse.metrics.registry.contentType);
      assert.ok(!response.body.includes(alice.id) && !response.body.includes(strangerId), 'no raw ids');
      const http = (method: string, route: string, status: number) =>
        sampleKey('gatehouse_http_requests_total', { method, route, status: String(status) });
      const timed = (method: string, route: string) =>
        sampleKey('gatehouse_http_request_duration_seconds_count', { method, route });
      const logins = (method: string, outcome: string) =>
        sampleKey('gatehouse_logins_total', { method, outcome });
      assert.deepEqual(counted(baseline, parseMetrics(response.body)), {
        [http('GET', '/metrics', 200)]: 1,
        [http('GET', '/users/:id', 200)]: 2,
        [http('GET', '/users/:id', 404)]: 1,
        [http('GET', 'unmatched', 404)]: 1,
        [http('POST', '/token', 200)]: 2,
        [http('POST', '/token', 401)]: 2,
        [http('POST', '/token', 400)]: 2,
        [http('POST', '/login', 200)]: 1,
        [http('POST', '/login', 401)]: 1,
        [http('POST', '/login', 429)]: 1,
        [timed('GET', '/metrics')]: 1,
        [timed('GET', '/users/:id')]: 3,
        [timed('GET', 'unmatched')]: 1,
        [timed('POST', '/token')]: 6,
        [timed('POST', '/login')]: 3,
        [logins('password', 'success')]: 1,
        [logins('password', 'invalid_credentials')]: 2,
        [logins('password', 'disabled')]: 1,
        [logins('cookie', 'success')]: 1,
        [logins('cookie', 'invalid_credentials')]: 1,
        [sampleKey('gatehouse_tokens_issued_total', { grant: 'password' })]: 1,
        [sampleKey('gatehouse_tokens_issued_total', { grant: 'refresh_token' })]: 1,
        [sampleKey('gatehouse_refresh_reuse_detected_total', {})]: 1,
        [sampleKey('gatehouse_rate_limit_blocks_total', { route: '/login' })]: 1,
      });
    });

    test('the database is reported up, process metrics are there, and Redis is absent without it', async () => {
      const samples = await scrape(t.app);
      assert.equal(value(samples, 'gatehouse_database_up'), 1);
      assert.ok((value(samples, 'gatehouse_process_cpu_user_seconds_total') ?? -1) >= 0);
      assert.ok(value(samples, 'gatehouse_nodejs_heap_size_used_bytes'));
      assert.equal(value(samples, 'gatehouse_redis_up'), undefined);
      assert.equal(value(samples, 'gatehouse_rate_limit_fallback'), undefined);
    });

    test('/metrics is not part of the OpenAPI document', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      assert.ok(doc.paths['/token']);
      assert.equal(doc.paths['/metrics'], undefined);
    });
  });
}

for (const database of DATABASES) {
  describe(`metrics of throttled logins and magic-link grants (${database.name})`, () => {
    test('a login refused by the failed-login throttle counts as blocked; a magic-link grant counts as issued', async () => {
      const smtp = await startSmtpServer();
      const t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_LOGIN_MAX_FAILURES: '2',
          GATEHOUSE_SMTP_URL: smtp.url,
          GATEHOUSE_PUBLIC_URL: 'http://gatehouse.test',
        },
      });
      try {
        await registerUser(t.app, 'dora');
        await registerUser(t.app, 'erik');
        const baseline = await scrape(t.app);
        for (let i = 0; i < 2; i++) {
          const wrong = await t.app.inject(form({ username: 'dora', password: 'wrong password' }));
          assert.equal(wrong.statusCode, 401);
        }
        const throttled = await t.app.inject(form({ username: 'dora', password: PASSWORD }));
        assert.equal(throttled.statusCode, 429, throttled.body);
        const asked = await t.app.inject({
          method: 'POST',
          url: '/magic-link',
          payload: { email: 'erik@example.com' },
        });
        assert.equal(asked.statusCode, 202);
        await t.gatehouse.emailFlows.settled();
        await t.gatehouse.mail.runOnce();
        const token = tokenFrom(mailTo(smtp.messages, 'erik@example.com').at(-1), '/magic-link');
        const granted = await t.app.inject(
          form({ grant_type: 'urn:gatehouse:grant-type:magic-link', token }),
        );
        assert.equal(granted.statusCode, 200, granted.body);
        const moved = counted(baseline, await scrape(t.app));
        const logins = (outcome: string) =>
          sampleKey('gatehouse_logins_total', { method: 'password', outcome });
        const issued = (grant: string) => sampleKey('gatehouse_tokens_issued_total', { grant });
        assert.equal(moved[logins('invalid_credentials')], 2);
        assert.equal(moved[logins('blocked')], 1);
        assert.equal(moved[logins('error')], undefined);
        assert.equal(moved[issued('magic_link')], 1);
        assert.equal(moved[issued('password')], undefined);
      } finally {
        await t.close();
        await smtp.close();
      }
    });
  });
}

describe('metrics token', () => {
  const token = 'scrape-7f3a9c2e51b84d06a1e9';
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ env: { GATEHOUSE_METRICS_TOKEN: token } });
  });
  after(() => t.close());
  const get = (authorization?: string) =>
    t.app.inject({ method: 'GET', url: '/metrics', headers: authorization ? { authorization } : {} });

  test('without the token a scrape is 401 with WWW-Authenticate: Bearer', async () => {
    const response = await get();
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer');
    assert.deepEqual(response.json(), { detail: 'Not authenticated' });
    assert.equal((await get(`Basic ${Buffer.from(`x:${token}`).toString('base64')}`)).statusCode, 401);
  });

  test('a wrong token is 401, whether shorter, longer, or wrong in its last character', async () => {
    const lastWrong = `${token.slice(0, -1)}${token.endsWith('9') ? '8' : '9'}`;
    for (const wrong of [token.slice(0, -1), `${token}x`, lastWrong, token.toUpperCase()]) {
      const response = await get(`Bearer ${wrong}`);
      assert.equal(response.statusCode, 401, wrong);
      assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"');
      assert.ok(!response.body.includes('gatehouse_'));
    }
  });

  test('a user’s access token is not a metrics token', async () => {
    await registerUser(t.app, 'alice');
    const access = await login(t.app, 'alice');
    assert.equal((await get(`Bearer ${access}`)).statusCode, 401);
  });

  test('the right token gets the metrics, and the token never reaches the logs', async () => {
    const response = await get(`Bearer ${token}`);
    assert.equal(response.statusCode, 200);
    assert.match(response.body, /^gatehouse_database_up 1$/m);
    assert.equal((await get(`bearer ${token}`)).statusCode, 200, 'the scheme is case-insensitive');
    assert.ok(!t.logs().includes(token));
  });

  test('a short token is refused at start-up without being repeated', () => {
    assert.throws(
      () => loadConfig({ GATEHOUSE_METRICS_TOKEN: 'short-secret' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /GATEHOUSE_METRICS_TOKEN must be 16 to 256/.test(error.message) &&
        !error.message.includes('short-secret'),
    );
  });
});

describe('one registry per Gatehouse', () => {
  test('two Gatehouses in one process count their own requests only', async () => {
    const a = await createTestApp();
    const b = await createTestApp();
    try {
      await registerUser(a.app, 'alice');
      await login(a.app, 'alice');
      const onA = await scrape(a.app);
      const onB = await scrape(b.app);
      const registered = { method: 'POST', route: '/register', status: '201' };
      assert.equal(value(onA, 'gatehouse_http_requests_total', registered), 1);
      assert.equal(value(onB, 'gatehouse_http_requests_total', registered), undefined);
      assert.equal(value(onA, 'gatehouse_tokens_issued_total', { grant: 'password' }), 1);
      assert.equal(value(onB, 'gatehouse_tokens_issued_total', { grant: 'password' }), undefined);
      assert.notEqual(a.gatehouse.metrics.registry, b.gatehouse.metrics.registry);
    } finally {
      await b.close();
      await a.close();
    }
  });

  test('GATEHOUSE_METRICS=off serves no /metrics and counts no requests', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_METRICS: 'off' } });
    try {
      await t.app.inject({ method: 'GET', url: '/' });
      assert.equal((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
      const samples = parseMetrics(await t.gatehouse.metrics.scrape());
      assert.equal(
        value(samples, 'gatehouse_http_requests_total', { method: 'GET', route: '/', status: '200' }),
        undefined,
      );
    } finally {
      await t.close();
    }
  });
});

describe('embedded plugin', () => {
  const embedded = async (options: { metricsToken?: string }) => {
    const app = Fastify();
    await app.register(gatehouse, {
      databaseUrl: 'sqlite::memory:',
      issuer: 'https://api.example.com',
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
      logLevel: 'silent',
      ...options,
    });
    app.get('/items/:id', async () => ({ ok: true }));
    await app.ready();
    return app;
  };

  test('without a token the host API serves no /metrics, but its routes are counted by pattern', async () => {
    const app = await embedded({});
    try {
      await app.inject({ method: 'GET', url: '/items/42' });
      assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
      const samples = parseMetrics(await app.gatehouse.services.metrics.scrape());
      const item = { method: 'GET', route: '/items/:id', status: '200' };
      assert.equal(value(samples, 'gatehouse_http_requests_total', item), 1);
    } finally {
      await app.close();
    }
  });

  test('with metricsToken the host API serves /metrics behind it', async () => {
    const metricsToken = 'embedded-metrics-token-0123';
    const app = await embedded({ metricsToken });
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
      await scrape(app, { authorization: `Bearer ${metricsToken}` });
    } finally {
      await app.close();
    }
  });
});

describe('database health at scrape time', { skip: TEST_DATABASE_URL === undefined }, () => {
  test('database_up is 0 while PostgreSQL is unreachable and 1 again when it is back', async () => {
    const target = new URL(TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test');
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(target);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const t = await createTestApp({ databaseUrl: viaProxy.toString() });
    try {
      assert.equal(value(await scrape(t.app), 'gatehouse_database_up'), 1);
      proxy.cut();
      assert.equal(value(await scrape(t.app), 'gatehouse_database_up'), 0, 'a scrape still answers');
      proxy.restore();
      await eventually(
        async () => value(await scrape(t.app), 'gatehouse_database_up') === 1,
        5000,
        'database_up back to 1',
      );
    } finally {
      proxy.restore();
      await t.close();
      await proxy.close();
    }
  });
});

describe('Redis health at scrape time', { skip: TEST_REDIS_URL === undefined }, () => {
  test('redis_up goes 0 and the rate-limit fallback 1 while Redis is cut, and back when restored', async () => {
    const target = new URL(TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const t = await createTestApp({
      env: {
        GATEHOUSE_REDIS_URL: `redis://127.0.0.1:${proxy.port}${target.pathname}`,
        GATEHOUSE_REDIS_PREFIX: uniqueRedisPrefix(),
      },
    });
    const redisState = async () => {
      const samples = await scrape(t.app);
      return [
        value(samples, 'gatehouse_redis_up'),
        value(samples, 'gatehouse_rate_limit_fallback'),
        value(samples, 'gatehouse_redis_unavailable_total'),
      ];
    };
    try {
      assert.deepEqual(await redisState(), [1, 0, 0]);
      proxy.cut();
      await eventually(async () => (await redisState())[0] === 0, 3000, 'redis_up 0');
      assert.deepEqual(await redisState(), [0, 1, 1]);
      assert.match(t.logs(), /Redis unavailable/);
      proxy.restore();
      await eventually(async () => (await redisState())[0] === 1, 5000, 'redis_up 1');
      assert.deepEqual(await redisState(), [1, 0, 1]);
    } finally {
      proxy.restore();
      await t.close();
      await proxy.close();
    }
  });
});
