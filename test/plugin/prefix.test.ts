/**
 * `app.register(gatehouse, { prefix: '/auth' })`: every Gatehouse route, metadata URL, emailed
 * link, page link and redirect sits under /auth; the host's own routes stay where they are.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { totpCode } from '../../src/auth/factors/totp.ts';
import gatehouseDefault, {
  createGatehouse,
  gatehouse,
  gatehousePlugin,
  loadConfig,
} from '../../src/index.ts';
import { ENCRYPTION_KEY } from '../factors/support.ts';
import { browserFormHeaders, cookieOf, form } from '../pages/form-client.ts';
import { eventually } from '../support/tcp-proxy.ts';

const PASSWORD = 'correct horse battery staple';

describe('Gatehouse mounted with prefix /auth', () => {
  let app: FastifyInstance;
  const outboxDir = mkdtempSync(join(tmpdir(), 'gatehouse-prefix-outbox-'));
  before(async () => {
    app = Fastify();
    await app.register(gatehouse, {
      prefix: '/auth',
      databaseUrl: 'sqlite::memory:',
      issuer: 'https://api.example.com',
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
      logLevel: 'silent',
      outboxDir,
    });
    app.get('/items', { onRequest: app.gatehouse.guards.requireUser }, async (request) => ({
      owner: request.principal?.user.username,
    }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    rmSync(outboxDir, { recursive: true, force: true });
  });

  test('register → token → /auth/users/me, and a host route guarded by the token', async () => {
    const registered = await app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD },
    });
    assert.equal(registered.statusCode, 201, registered.body);
    const token = await app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ username: 'alice', password: PASSWORD }),
    });
    assert.equal(token.statusCode, 200, token.body);
    const authorization = `Bearer ${token.json().access_token}`;
    const me = await app.inject({ method: 'GET', url: '/auth/users/me', headers: { authorization } });
    assert.equal(me.json().username, 'alice');
    const items = await app.inject({ method: 'GET', url: '/items', headers: { authorization } });
    assert.deepEqual(items.json(), { owner: 'alice' });
    assert.equal(app.gatehouse.basePath, '/auth');
    for (const url of ['/register', '/token', '/users/me', '/login', '/.well-known/jwks.json']) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404, `${url} is not at the root`);
    }
  });

  test('the mailed link carries the prefix', async () => {
    await app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { username: 'mailee', email: 'mailee@example.com', password: PASSWORD },
    });
    const mailFile = () => readdirSync(outboxDir).find((name) => name.endsWith('-mailee@example.com.eml'));
    await eventually(() => mailFile() !== undefined, 10_000, 'the verification mail is written');
    const mail = readFileSync(join(outboxDir, String(mailFile())), 'utf8').replace(/=\r?\n/g, '');
    assert.match(mail, /https:\/\/api\.example\.com\/auth\/verify-email\?token=/);
    assert.doesNotMatch(mail, /https:\/\/api\.example\.com\/verify-email/);
  });

  test('the metadata names the endpoints under the prefix, and they answer there', async () => {
    const metadata = await app.inject({ method: 'GET', url: '/auth/.well-known/oauth-authorization-server' });
    assert.equal(metadata.statusCode, 200);
    const body = metadata.json();
    assert.equal(body.issuer, 'https://api.example.com');
    assert.equal(body.token_endpoint, 'https://api.example.com/auth/token');
    assert.equal(body.jwks_uri, 'https://api.example.com/auth/.well-known/jwks.json');
    const jwks = await app.inject({ method: 'GET', url: '/auth/.well-known/jwks.json' });
    assert.ok(jwks.json().keys.length >= 1);
  });

  test('the pages link, post and redirect under the prefix', async () => {
    const page = await app.inject({ method: 'GET', url: '/auth/login' });
    assert.equal(page.statusCode, 200);
    const links = [...page.body.matchAll(/\b(?:href|action)="(\/[^"]*)"/g)].map((m) => m[1] ?? '');
    assert.ok(links.length >= 4, 'the login page has links and forms');
    for (const link of links) assert.ok(link.startsWith('/auth/'), `${link} is under /auth`);
    const stylesheet = /href="(\/auth\/assets\/[^"]+)"/.exec(page.body)?.[1];
    assert.equal((await app.inject({ method: 'GET', url: String(stylesheet) })).statusCode, 200);

    const account = await app.inject({ method: 'GET', url: '/auth/account' });
    assert.equal(account.statusCode, 303);
    assert.equal(account.headers.location, `/auth/login?return_to=${encodeURIComponent('/auth/account')}`);

    const signIn = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: PASSWORD }),
    });
    assert.equal(signIn.statusCode, 303, signIn.body);
    assert.equal(signIn.headers.location, '/auth/account');
    const cookie = cookieOf(signIn);
    const accountPage = await app.inject({ method: 'GET', url: '/auth/account', headers: { cookie } });
    assert.equal(accountPage.statusCode, 200);
    assert.match(accountPage.body, /action="\/auth\/logout"/);
    // The session cookie is the site's (Path=/): the host's own routes take it too.
    assert.deepEqual((await app.inject({ method: 'GET', url: '/items', headers: { cookie } })).json(), {
      owner: 'alice',
    });
    const wrong = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: 'not the password at all' }),
    });
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /action="\/auth\/login"/);
  });
});

test('gatehousePlugin refuses a prefix that the services were not built for', async () => {
  const services = await createGatehouse(loadConfig({ GATEHOUSE_DATABASE_URL: 'sqlite::memory:' }));
  const app = Fastify();
  try {
    await assert.rejects(
      async () => {
        await app.register(gatehousePlugin, { gatehouse: services, prefix: '/auth' });
        await app.ready();
      },
      (error: Error) => error instanceof TypeError && /basePath/.test(error.message),
    );
  } finally {
    await app.close().catch(() => {});
    await services.close();
  }
});

test('gatehousePlugin under a prefix with services built for it', async () => {
  const services = await createGatehouse(
    loadConfig({ GATEHOUSE_DATABASE_URL: 'sqlite::memory:', GATEHOUSE_LOG_LEVEL: 'silent' }),
    { basePath: '/auth' },
  );
  const app = Fastify();
  try {
    await app.register(gatehousePlugin, { gatehouse: services, prefix: '/auth' });
    await app.ready();
    assert.equal((await app.inject({ method: 'GET', url: '/auth/.well-known/jwks.json' })).statusCode, 200);
  } finally {
    await app.close();
    await services.close();
  }
});

test('a malformed prefix is a TypeError naming it', async () => {
  const app = Fastify();
  await assert.rejects(
    async () => {
      await app.register(gatehouse, { prefix: 'auth ', databaseUrl: 'sqlite::memory:' });
      await app.ready();
    },
    (error: Error) => error instanceof TypeError && /prefix/.test(error.message),
  );
  await app.close().catch(() => {});
});

test('inside a host plugin with its own prefix, the paths add up', async () => {
  const app = Fastify();
  try {
    await app.register(
      async (api) => {
        await api.register(gatehouse, {
          prefix: '/auth/',
          databaseUrl: 'sqlite::memory:',
          issuer: 'https://api.example.com',
          logLevel: 'silent',
        });
      },
      { prefix: '/v1' },
    );
    await app.ready();
    const metadata = await app.inject({
      method: 'GET',
      url: '/v1/auth/.well-known/oauth-authorization-server',
    });
    assert.equal(metadata.json().token_endpoint, 'https://api.example.com/v1/auth/token');
    const page = await app.inject({ method: 'GET', url: '/v1/auth/login' });
    assert.match(page.body, /action="\/v1\/auth\/login"/);
  } finally {
    await app.close();
  }
});

test('enrolment by policy under a prefix: its forms post under /auth and its Continue link is not prefixed twice', async () => {
  const app = Fastify();
  try {
    await app.register(gatehouse, {
      prefix: '/auth',
      databaseUrl: 'sqlite::memory:',
      issuer: 'https://api.example.com',
      logLevel: 'silent',
      mfa: 'required',
      encryptionKeys: [ENCRYPTION_KEY],
    });
    await app.ready();
    await app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { username: 'erin', email: 'erin@example.com', password: PASSWORD },
    });
    const post = (url: string, fields: Record<string, string>) =>
      app.inject({ method: 'POST', url, headers: browserFormHeaders(), payload: form(fields) });
    const login = await post('/auth/login', { username: 'erin', password: PASSWORD });
    assert.match(login.body, /action="\/auth\/login\/enrollment\/totp"/);
    const token = /name="enrollment_token" value="([^"]+)"/.exec(login.body)?.[1] ?? '';
    const setup = await post('/auth/login/enrollment/totp', { enrollment_token: token });
    const action = /action="(\/auth\/login\/enrollment\/factors\/totp\/[^"]+\/confirm)"/.exec(
      setup.body,
    )?.[1];
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.body)?.[1]?.replace(/ /g, '') ?? '';
    assert.ok(action, setup.body);
    const done = await post(action, { enrollment_token: token, code: totpCode(secret, Date.now()) });
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /href='\/auth\/account'>Continue/);
  } finally {
    await app.close();
  }
});

test('the plugin is the default export as well as a named one', () => {
  assert.equal(gatehouseDefault, gatehouse);
});
