/**
 * `requireRecentAuth({ maxAge })` for a host app's own routes: in the plugin (tokens, cookies, API
 * keys against the database) and in the verifier (the token's `auth_time` alone).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { createManualClock, gatehouse } from '../../src/index.ts';
import { createVerifier } from '../../src/verify/index.ts';
import { createTestApp, login, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

const MINUTE = 60_000;

function assertReauthRequired(response: LightMyRequestResponse, maxAgeSeconds: number): void {
  assert.equal(response.statusCode, 401, response.body);
  assert.equal(
    response.headers['www-authenticate'],
    `Bearer error="insufficient_user_authentication", error_description="Recent sign-in required", max_age=${maxAgeSeconds}`,
  );
  assert.deepEqual(response.json(), { detail: 'Recent sign-in required', code: 'REAUTH_REQUIRED' });
}

describe('requireRecentAuth in an embedding app', () => {
  let app: FastifyInstance;
  const clock = createManualClock(Date.now());
  const outboxDir = mkdtempSync(join(tmpdir(), 'gatehouse-recent-auth-'));
  before(async () => {
    app = Fastify();
    await app.register(gatehouse, {
      databaseUrl: 'sqlite::memory:',
      issuer: 'https://api.example.com',
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
      logLevel: 'silent',
      outboxDir,
      clock,
    });
    const { guards } = app.gatehouse;
    app.post('/payouts', { onRequest: guards.requireRecentAuth({ maxAge: '5m' }) }, async () => ({
      paid: true,
    }));
    app.post(
      '/settings',
      { onRequest: [guards.requireScopes('profile:write'), guards.requireRecentAuth()] },
      async (request) => ({ for: request.principal?.user.username }),
    );
    app.post('/maybe', { onRequest: guards.requireUser }, async (request) => {
      guards.assertRecentAuth(request, { maxAge: 60 });
      return { ok: true };
    });
    await app.ready();
    await registerUser(app, 'alice');
  });
  after(async () => {
    await app.close();
    rmSync(outboxDir, { recursive: true, force: true });
  });

  const post = (url: string, headers: Record<string, string>) => app.inject({ method: 'POST', url, headers });

  test("a token within maxAge passes; past it, 401 REAUTH_REQUIRED with the route's max_age; the default is GATEHOUSE_REAUTH_MAX_AGE", async () => {
    const token = await login(app, 'alice');
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await post('/payouts', auth)).statusCode, 200);
    assert.equal((await post('/maybe', auth)).statusCode, 200);
    clock.advance(2 * MINUTE);
    // Thrown in a host handler, Fastify's own error handler answers it: 401 with the challenge.
    const inHandler = await post('/maybe', auth);
    assert.equal(inHandler.statusCode, 401);
    assert.match(
      String(inHandler.headers['www-authenticate']),
      /insufficient_user_authentication.*max_age=60$/,
    );
    assert.equal(inHandler.json().code, 'REAUTH_REQUIRED');
    clock.advance(4 * MINUTE);
    assertReauthRequired(await post('/payouts', auth), 300);
    assert.deepEqual((await post('/settings', auth)).json(), { for: 'alice' });
    clock.advance(5 * MINUTE);
    assertReauthRequired(await post('/settings', auth), 600);

    const reauth = await app.inject({
      method: 'POST',
      url: '/reauthenticate',
      headers: auth,
      payload: { password: PASSWORD },
    });
    assert.equal(reauth.statusCode, 200, reauth.body);
    const fresh = { authorization: `Bearer ${reauth.json().access_token}` };
    assert.equal((await post('/payouts', fresh)).statusCode, 200);
  });

  test('an API key never passes', async () => {
    const token = await login(app, 'alice');
    const created = await app.inject({
      method: 'POST',
      url: '/api-keys',
      headers: { authorization: `Bearer ${token}` },
      payload: { name: 'robot', scopes: ['profile:write'] },
    });
    assert.equal(created.statusCode, 201, created.body);
    assertReauthRequired(await post('/payouts', { 'x-api-key': created.json().key }), 300);
  });

  test('a maxAge that is not a duration is a TypeError when the route is declared', () => {
    const { guards } = app.gatehouse;
    assert.throws(() => guards.requireRecentAuth({ maxAge: 'soon' }), TypeError);
    assert.throws(() => guards.requireRecentAuth({ maxAge: -1 }), TypeError);
  });
});

describe('requireRecentAuth in the verifier', () => {
  let t: TestApp;
  let verifierApp: FastifyInstance;
  before(async () => {
    t = await createTestApp();
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    await registerUser(t.app, 'alice');
    const verifier = createVerifier({
      issuer: 'http://gatehouse.test',
      jwksUri: `${address}/.well-known/jwks.json`,
      clock: t.clock,
    });
    verifierApp = Fastify();
    verifierApp.post(
      '/payouts',
      { onRequest: verifier.guards.requireRecentAuth({ maxAge: 300 }) },
      async () => ({
        paid: true,
      }),
    );
    verifierApp.post('/default', { onRequest: verifier.guards.requireRecentAuth() }, async () => ({
      ok: true,
    }));
    await verifierApp.ready();
  });
  after(async () => {
    await verifierApp.close();
    await t.close();
  });

  const post = (url: string, token: string) =>
    verifierApp.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` } });

  test("checks the token's auth_time against maxAge (default 600 s) and answers as the server does", async () => {
    const token = await login(t.app, 'alice');
    assert.equal((await post('/payouts', token)).statusCode, 200);
    t.clock.advance(6 * MINUTE);
    assertReauthRequired(await post('/payouts', token), 300);
    assert.equal((await post('/default', token)).statusCode, 200);
    t.clock.advance(5 * MINUTE);
    assertReauthRequired(await post('/default', token), 600);
  });

  test('a token without auth_time never passes', async () => {
    const user = await t.gatehouse.accounts.findByUsername('alice');
    assert.ok(user);
    const legacy = t.gatehouse.tokens.issueAccessToken({
      userId: user.id,
      username: 'alice',
      roles: user.roles,
      scope: 'profile:read',
    });
    assertReauthRequired(await post('/payouts', legacy.token), 300);
  });
});
