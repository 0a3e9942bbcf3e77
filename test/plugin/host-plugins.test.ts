/**
 * Gatehouse inside a host app that registers the usual Fastify plugins itself, before or after
 * Gatehouse: @fastify/cookie (with a secret), @fastify/rate-limit, @fastify/helmet,
 * @fastify/cors and @fastify/formbody. Each combination starts, Gatehouse's routes work, and so
 * do the host's own routes and the host plugin's own features.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { gatehouse } from '../../src/index.ts';
import { browserFormHeaders, cookieOf, form } from '../pages/form-client.ts';
import { login, registerUser } from '../support/gatehouse.ts';

const outboxDir = mkdtempSync(join(tmpdir(), 'gatehouse-host-plugins-'));
after(() => rmSync(outboxDir, { recursive: true, force: true }));

const OPTIONS = {
  outboxDir,
  databaseUrl: 'sqlite::memory:',
  issuer: 'https://api.example.com',
  argon2MemoryKib: 1024,
  argon2Iterations: 1,
  logLevel: 'silent',
} as const;

type HostPlugin = {
  readonly name: string;
  register(app: FastifyInstance): Promise<void>;
  /** The host plugin's own feature still works, on the host's route `/host`. */
  check(app: FastifyInstance): Promise<void>;
};

const HOST_PLUGINS: readonly HostPlugin[] = [
  {
    name: '@fastify/cookie with a secret',
    register: async (app) => {
      await app.register(cookie, { secret: 'a host secret of thirty-two chars!' });
    },
    check: async (app) => {
      const response = await app.inject({ method: 'GET', url: '/host?set=1' });
      const signed = cookieOf(response);
      const read = await app.inject({ method: 'GET', url: '/host', headers: { cookie: signed } });
      assert.equal(read.json().unsigned, 'host-value');
    },
  },
  {
    name: '@fastify/rate-limit',
    register: async (app) => {
      await app.register(rateLimit, { global: false });
    },
    check: async (app) => {
      assert.equal((await app.inject({ method: 'GET', url: '/host' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/host' })).statusCode, 429);
    },
  },
  {
    name: '@fastify/helmet',
    register: async (app) => {
      await app.register(helmet);
    },
    check: async (app) => {
      const response = await app.inject({ method: 'GET', url: '/host' });
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
    },
  },
  {
    name: '@fastify/cors',
    register: async (app) => {
      await app.register(cors, { origin: 'https://spa.example.com' });
    },
    check: async (app) => {
      const response = await app.inject({
        method: 'GET',
        url: '/host',
        headers: { origin: 'https://spa.example.com' },
      });
      assert.equal(response.headers['access-control-allow-origin'], 'https://spa.example.com');
    },
  },
  {
    name: '@fastify/formbody',
    register: async (app) => {
      await app.register(formbody);
    },
    check: async (app) => {
      const response = await app.inject({
        method: 'POST',
        url: '/host',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'a=1',
      });
      assert.deepEqual(response.json(), { a: '1' });
    },
  },
];

async function hostRoutes(app: FastifyInstance, plugin: HostPlugin): Promise<void> {
  app.get('/me-too', { onRequest: app.gatehouse.guards.requireUser }, async (request) => ({
    username: request.principal?.user.username,
  }));
  if (plugin.name === '@fastify/rate-limit') {
    app.get('/host', { config: { rateLimit: { max: 1, timeWindow: '1 minute' } } }, async () => ({}));
  } else if (plugin.name.startsWith('@fastify/cookie')) {
    app.get<{ Querystring: { set?: string } }>('/host', async (request, reply) => {
      if (request.query.set) reply.setCookie('host', 'host-value', { signed: true });
      const raw = request.cookies.host;
      return { unsigned: raw === undefined ? null : request.unsignCookie(raw).value };
    });
  } else {
    app.get('/host', async () => ({}));
    app.post('/host', async (request) => request.body);
  }
}

/** Gatehouse's own API and pages, and a host route guarded by Gatehouse through a session cookie. */
async function checkGatehouse(app: FastifyInstance): Promise<void> {
  await registerUser(app, 'alice');
  const token = await login(app, 'alice');
  const me = await app.inject({
    method: 'GET',
    url: '/users/me',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(me.json().username, 'alice');
  const signIn = await app.inject({
    method: 'POST',
    url: '/login',
    headers: browserFormHeaders(),
    payload: form({ username: 'alice', password: 'correct horse battery staple' }),
  });
  assert.equal(signIn.statusCode, 303);
  const session = cookieOf(signIn);
  const hostRoute = await app.inject({ method: 'GET', url: '/me-too', headers: { cookie: session } });
  assert.equal(hostRoute.statusCode, 200, hostRoute.body);
  assert.deepEqual(hostRoute.json(), { username: 'alice' });
  const page = await app.inject({ method: 'GET', url: '/login' });
  assert.match(String(page.headers['content-security-policy']), /^default-src 'none'/);
}

for (const plugin of HOST_PLUGINS) {
  describe(`a host app with ${plugin.name}`, () => {
    for (const order of ['before', 'after'] as const) {
      test(`registered ${order} Gatehouse: both work`, async () => {
        const app = Fastify();
        try {
          if (order === 'before') await plugin.register(app);
          await app.register(gatehouse, OPTIONS);
          if (order === 'after') await plugin.register(app);
          await app.register(async (scope) => hostRoutes(scope, plugin));
          await app.ready();
          await checkGatehouse(app);
          await plugin.check(app);
        } finally {
          await app.close();
        }
      });
    }
  });
}

test('a host app without @fastify/cookie: its guarded routes still accept the session cookie', async () => {
  const app = Fastify();
  try {
    await app.register(gatehouse, OPTIONS);
    await app.register(async (scope) => hostRoutes(scope, HOST_PLUGINS[2] as HostPlugin));
    await app.ready();
    assert.equal(app.hasRequestDecorator('cookies'), false, 'the host app did not get @fastify/cookie');
    await checkGatehouse(app);
  } finally {
    await app.close();
  }
});
