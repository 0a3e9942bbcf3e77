/**
 * PostgreSQL taken away behind a TCP proxy (the shared server itself is never touched): readiness
 * and every request that needs the database answer 503 fast, and service resumes by itself.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { USER_CACHE_MAX_AGE_MS } from '../../src/auth/user-cache.ts';
import { createManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.ts';
import { gatehousePlugin } from '../../src/plugin.ts';
import {
  createTestApp,
  FAST_ARGON2,
  login,
  NO_RATE_LIMITS,
  PASSWORD,
  registerUser,
  TEST_DATABASE_URL,
  type TestApp,
} from '../support/gatehouse.ts';
import { eventually, startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const AVAILABILITY_MS = 2000;

/** The database URL with its host and port replaced by a local proxy's. */
function throughProxy(port: number): string {
  const url = new URL(TEST_DATABASE_URL ?? '');
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | undefined;
  elapsedMs: number;
}

/** Sends one request and reports how long the answer took. */
async function timed(app: FastifyInstance, request: InjectOptions): Promise<Answer> {
  const started = performance.now();
  const response = await app.inject(request);
  const elapsedMs = performance.now() - started;
  const retryAfter = response.headers['retry-after'];
  return {
    status: response.statusCode,
    body: response.body ? response.json() : {},
    retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
    elapsedMs,
  };
}

function assertUnavailable(answer: Answer, what: string): void {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
  assert.ok(answer.retryAfter !== undefined && Number(answer.retryAfter) >= 1, `${what}: Retry-After`);
  // The availability target of the spec: an outage is reported, not waited out.
  assert.ok(answer.elapsedMs < AVAILABILITY_MS, `${what} took ${Math.round(answer.elapsedMs)} ms`);
}

const tokenForm = (username: string) => ({
  method: 'POST' as const,
  url: '/token',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams({ username, password: PASSWORD }).toString(),
});

const registration = (username: string) => ({
  method: 'POST' as const,
  url: '/register',
  payload: { username, email: `${username}@example.com`, password: PASSWORD },
});

describe('PostgreSQL cut off behind a proxy', { skip: TEST_DATABASE_URL === undefined }, () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let token = '';

  before(async () => {
    const target = new URL(TEST_DATABASE_URL ?? '');
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    t = await createTestApp({ databaseUrl: throughProxy(proxy.port) });
    await registerUser(t.app, 'alice');
    token = await login(t.app, 'alice');
  });

  after(async () => {
    proxy.restore();
    await t.close();
    await proxy.close();
  });

  test('cut: /readyz, /token, /users/me and /register answer 503 "Service unavailable" within 2 s; restored: 200 again', async () => {
    proxy.cut();
    const ready = await timed(t.app, { method: 'GET', url: '/readyz' });
    assert.equal(ready.status, 503);
    assert.ok(ready.elapsedMs < AVAILABILITY_MS, `/readyz took ${Math.round(ready.elapsedMs)} ms`);

    const answers = {
      token: await timed(t.app, tokenForm('alice')),
      me: await timed(t.app, {
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${token}` },
      }),
      register: await timed(t.app, registration('bob')),
    };
    for (const [what, answer] of Object.entries(answers)) {
      assertUnavailable(answer, what);
      assert.deepEqual(answer.body, { detail: 'Service unavailable' }, what);
    }
    const logs = t.logs();
    assert.match(logs, /"level":40,[^\n]*"code":"DATABASE_UNAVAILABLE"[^\n]*"msg":"database unavailable"/);
    assert.doesNotMatch(logs, /"level":50/, 'an outage is not logged as an unexpected error');

    proxy.restore();
    await eventually(
      async () => (await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
      5000,
      '/readyz recovers',
    );
    assert.equal((await timed(t.app, tokenForm('alice'))).status, 200);
    const me = await timed(t.app, {
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(me.status, 200);
    assert.equal(me.body.username, 'alice');
    assert.equal((await timed(t.app, registration('bob'))).status, 201);
  });

  test('a cut in the middle of a refresh (a transaction) answers 503, and the refresh token still works afterwards', async () => {
    const issued = await t.app.inject(tokenForm('alice'));
    const refreshToken = issued.json().refresh_token as string;
    proxy.cut();
    const refresh = await timed(t.app, {
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
    });
    assertUnavailable(refresh, 'refresh');
    proxy.restore();
    await eventually(
      async () => (await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
      5000,
      '/readyz recovers',
    );
    const again = await t.app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
    });
    assert.equal(again.statusCode, 200, 'nothing of the failed refresh was committed');
  });
});

/**
 * A proxy that can go silent: open connections stay open but nothing passes either way, and new
 * ones are accepted and never answered. This is what a crashed host or a dropped NAT entry looks
 * like to the client — no error, no reset, just no answer.
 */
async function startStallingProxy(targetHost: string, targetPort: number) {
  const open = new Set<Socket>();
  let stalled = false;
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    if (stalled) return;
    const upstream = connect(targetPort, targetHost);
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk) => {
      if (!stalled) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!stalled) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      // Connections that went silent are broken for good (their streams lost bytes).
      for (const socket of open) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('PostgreSQL silent (half-open connections)', { skip: TEST_DATABASE_URL === undefined }, () => {
  test('pooled and new connections that never answer give 503 within 2 s, in the standalone server and the embedded plugin', async () => {
    const target = new URL(TEST_DATABASE_URL ?? '');
    const proxy = await startStallingProxy(target.hostname, Number(target.port || 5432));
    const timeouts = {
      GATEHOUSE_DATABASE_STATEMENT_TIMEOUT: '1s',
      GATEHOUSE_DATABASE_CONNECT_TIMEOUT: '1s',
    };
    const t = await createTestApp({ databaseUrl: throughProxy(proxy.port), env: timeouts });
    // A host API embedding the plugin on the same database.
    const embeddedClock = createManualClock(Date.now());
    const embedded: Gatehouse = await createGatehouse(
      loadConfig({
        GATEHOUSE_DATABASE_URL: throughProxy(proxy.port),
        GATEHOUSE_ISSUER: 'http://gatehouse.test',
        ...FAST_ARGON2,
        ...NO_RATE_LIMITS,
        ...timeouts,
      }),
      {
        clock: embeddedClock,
        ...(t.pgSchema ? { pgSchema: t.pgSchema } : {}),
        migrate: false,
      },
    );
    const host = Fastify();
    await host.register(gatehousePlugin, { gatehouse: embedded });
    host.get('/items', { onRequest: host.gatehouse.guards.requireUser }, async () => ({ items: [] }));
    // A host route calling a service directly, answered by Fastify's default error handler.
    host.get('/owner', async () => ({
      found: (await embedded.accounts.findByUsername('carol')) !== undefined,
    }));
    await host.ready();
    try {
      await registerUser(t.app, 'carol');
      const token = await login(t.app, 'carol');
      const sameToken = await login(host, 'carol');
      assert.equal(
        (
          await host.inject({
            method: 'GET',
            url: '/items',
            headers: { authorization: `Bearer ${sameToken}` },
          })
        ).statusCode,
        200,
      );

      proxy.stall();
      // The user the guard read a moment ago is still served from the user cache, at most 1 s;
      // past that the guard needs the database like everything else.
      const cached = await timed(host, {
        method: 'GET',
        url: '/items',
        headers: { authorization: `Bearer ${sameToken}` },
      });
      assert.equal(cached.status, 200);
      embeddedClock.advance(USER_CACHE_MAX_AGE_MS);
      const answers = {
        me: await timed(t.app, {
          method: 'GET',
          url: '/users/me',
          headers: { authorization: `Bearer ${token}` },
        }),
        token: await timed(t.app, tokenForm('carol')),
        embeddedToken: await timed(host, tokenForm('carol')),
        embeddedGuard: await timed(host, {
          method: 'GET',
          url: '/items',
          headers: { authorization: `Bearer ${sameToken}` },
        }),
      };
      for (const [what, answer] of Object.entries(answers)) {
        assertUnavailable(answer, what);
        assert.deepEqual(answer.body, { detail: 'Service unavailable' }, what);
      }
      const ready = await timed(t.app, { method: 'GET', url: '/readyz' });
      assert.equal(ready.status, 503);
      assert.ok(ready.elapsedMs < AVAILABILITY_MS, `/readyz took ${Math.round(ready.elapsedMs)} ms`);
      const hostRoute = await timed(host, { method: 'GET', url: '/owner' });
      assertUnavailable(hostRoute, 'host route');

      proxy.resume();
      await eventually(
        async () => (await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
        5000,
        '/readyz recovers',
      );
      assert.equal((await timed(t.app, tokenForm('carol'))).status, 200);
      assert.equal((await timed(host, tokenForm('carol'))).status, 200);
      assert.deepEqual((await timed(host, { method: 'GET', url: '/owner' })).body, { found: true });
    } finally {
      await host.close();
      await embedded.close();
      await t.close();
      await proxy.close();
    }
  });
});
