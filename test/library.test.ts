import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { gatehouse, operatorActor } from '../src/index.ts';
import { createVerifier } from '../src/verify/index.ts';
import { createTestApp, login, PASSWORD, registerUser, type TestApp } from './support/gatehouse.ts';
import { eventually } from './support/tcp-proxy.ts';

describe('Gatehouse embedded with options', () => {
  let app: FastifyInstance;
  const outboxDir = mkdtempSync(join(tmpdir(), 'gatehouse-library-outbox-'));
  before(async () => {
    app = Fastify();
    await app.register(gatehouse, {
      databaseUrl: 'sqlite::memory:',
      issuer: 'https://api.example.com',
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
      logLevel: 'silent',
      outboxDir,
    });
    const { guards } = app.gatehouse;
    app.get('/items', { onRequest: guards.requireScopes('items:read') }, async (request) => ({
      owner: request.principal?.user.username,
    }));
    app.get('/pro', { onRequest: guards.requireRoles('pro') }, async () => ({ plan: 'pro' }));
    app.get('/maybe', { onRequest: guards.optionalUser }, async (request) => ({
      who: request.principal?.user.username ?? null,
    }));
    await app.ready();
  });
  after(async () => {
    await app.close();
    rmSync(outboxDir, { recursive: true, force: true });
  });

  test('the plugin runs the mail worker: a registration is soon written to the outbox', async () => {
    await registerUser(app, 'mailee');
    await eventually(
      () =>
        existsSync(outboxDir) && readdirSync(outboxDir).some((f) => f.endsWith('-mailee@example.com.eml')),
      10_000,
      'the verification mail is written',
    );
  });

  test('the host app gets every Gatehouse route and can guard its own routes by scope and role', async () => {
    await registerUser(app, 'alice');
    const { services } = app.gatehouse;
    await services.roles.createRole(operatorActor(), 'pro', 'Paid plan', ['items:read']);
    const plain = await login(app, 'alice');
    const forbidden = await app.inject({
      method: 'GET',
      url: '/items',
      headers: { authorization: `Bearer ${plain}` },
    });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(
      forbidden.headers['www-authenticate'],
      'Bearer error="insufficient_scope", scope="items:read"',
    );
    assert.equal(
      (await app.inject({ method: 'GET', url: '/pro', headers: { authorization: `Bearer ${plain}` } }))
        .statusCode,
      403,
    );

    const alice = await services.accounts.findByUsername('alice');
    await services.accounts.setRoles(alice?.id ?? '', ['user', 'pro']);
    const pro = await login(app, 'alice');
    const items = await app.inject({
      method: 'GET',
      url: '/items',
      headers: { authorization: `Bearer ${pro}` },
    });
    assert.deepEqual(items.json(), { owner: 'alice' });
    assert.equal(
      (await app.inject({ method: 'GET', url: '/pro', headers: { authorization: `Bearer ${pro}` } }))
        .statusCode,
      200,
    );
    assert.equal((await app.inject({ method: 'GET', url: '/items' })).statusCode, 401);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/maybe' })).json(), { who: null });
    assert.deepEqual(
      (
        await app.inject({ method: 'GET', url: '/maybe', headers: { authorization: `Bearer ${pro}` } })
      ).json(),
      { who: 'alice' },
    );
  });

  test('a bad or unknown option is a TypeError naming it', async () => {
    for (const [options, message] of [
      [
        { databaseUrl: 'sqlite::memory:', issuer: 'not a url' },
        /option "issuer" must be an absolute http\(s\) URL/,
      ],
      [{ databaseUrl: 'sqlite::memory:', colour: 'blue' }, /unknown option "colour"/],
      [{ databaseUrl: 'sqlite::memory:', jwtAlg: 'HS256' }, /option "jwtSecret" is required/],
      [
        { databaseUrl: 'sqlite::memory:', port: '8000' },
        /option "port" must be a whole number from 0 to 65535/,
      ],
    ] as const) {
      const host = Fastify();
      await assert.rejects(
        async () => {
          await host.register(gatehouse, options as never);
          await host.ready();
        },
        (error: Error) => error instanceof TypeError && message.test(error.message),
      );
      await host.close().catch(() => {});
    }
  });
});

describe('gatehouse/verify against a running Gatehouse', () => {
  let t: TestApp;
  let verifierApp: FastifyInstance;
  let jwksUri: string;
  before(async () => {
    t = await createTestApp();
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    jwksUri = `${address}/.well-known/jwks.json`;
    await registerUser(t.app, 'alice');
    const verifier = createVerifier({ issuer: 'http://gatehouse.test', jwksUri });
    verifierApp = Fastify();
    verifierApp.get('/whoami', { onRequest: verifier.guards.requireUser }, async (request) => ({
      user: request.tokenPrincipal?.username,
    }));
    verifierApp.get('/audit', { onRequest: verifier.guards.requireScopes('audit:read') }, async () => ({
      ok: true,
    }));
    await verifierApp.ready();
  });
  after(async () => {
    await verifierApp.close();
    await t.close();
  });

  test('a Gatehouse token is accepted, a missing scope is 403, no token 401, a forged one 401', async () => {
    const token = await login(t.app, 'alice');
    const ok = await verifierApp.inject({
      method: 'GET',
      url: '/whoami',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(ok.json(), { user: 'alice' });
    const scope = await verifierApp.inject({
      method: 'GET',
      url: '/audit',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(scope.statusCode, 403);
    assert.equal(scope.headers['www-authenticate'], 'Bearer error="insufficient_scope", scope="audit:read"');
    assert.equal((await verifierApp.inject({ method: 'GET', url: '/whoami' })).statusCode, 401);
    const [h, p] = token.split('.');
    const forged = `${h}.${p}.${'A'.repeat(86)}`;
    const bad = await verifierApp.inject({
      method: 'GET',
      url: '/whoami',
      headers: { authorization: `Bearer ${forged}` },
    });
    assert.equal(bad.statusCode, 401);
    assert.equal(bad.headers['www-authenticate'], 'Bearer error="invalid_token"');
  });

  test('a token from a rotated key is verified by refetching the JWKS; another audience is refused', async () => {
    // No cooldown: an unknown kid is fetched at once (jose's default waits 30 s after a fetch).
    const verifier = createVerifier({ issuer: 'http://gatehouse.test', jwksUri, cooldownDuration: 0 });
    await verifier.verify(await login(t.app, 'alice'));
    await t.gatehouse.keys.rotate();
    const claims = await verifier.verify(await login(t.app, 'alice'));
    assert.equal(claims.preferred_username, 'alice');
    const other = createVerifier({
      issuer: 'http://gatehouse.test',
      audience: 'https://other.example',
      jwksUri,
    });
    await assert.rejects(other.verify(await login(t.app, 'alice')), { status: 401 });
  });

  test('principal() reads a Fetch Request or Node headers and is null without a token', async () => {
    const verifier = createVerifier({ issuer: 'http://gatehouse.test', jwksUri });
    const token = await login(t.app, 'alice', PASSWORD, 'profile:read');
    const fromFetch = await verifier.principal(
      new Request('http://x/', { headers: { authorization: `Bearer ${token}` } }),
    );
    assert.deepEqual([...(fromFetch?.scopes ?? [])], ['profile:read']);
    const fromNode = await verifier.principal({ headers: { authorization: `Bearer ${token}` } });
    assert.equal(fromNode?.username, 'alice');
    assert.equal(await verifier.principal({ headers: {} }), null);
  });
});
