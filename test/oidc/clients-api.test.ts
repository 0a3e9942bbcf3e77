/**
 * The admin API of clients: RFC 7591 requests and answers, the secret shown once, permissions
 * (`clients:read`, `clients:write`), the privilege ceiling, RFC 7591 §3.2.2 errors, and 404s.
 * On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { createTestApp, DATABASES, login, PASSWORD, type TestApp } from '../support/gatehouse.ts';

const WEB = { client_name: 'Dashboard', redirect_uris: ['https://app.example.com/callback'] };

for (const database of DATABASES) {
  describe(`/clients (${database.name})`, () => {
    let t: TestApp;
    let admin: string;
    let moderator: string;
    let clientAdmin: string;
    const call = (
      token: string | undefined,
      method: InjectOptions['method'],
      url: string,
      payload?: object,
    ) =>
      t.app.inject({
        method,
        url,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(payload ? { payload } : {}),
      });

    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      const g = t.gatehouse;
      await g.roles.createRole(operatorActor(), 'client-admin', 'Manages clients', [
        'clients:read',
        'clients:write',
        'items:read',
      ]);
      const user = (username: string, roles: string[]) =>
        g.accounts.register({ username, email: `${username}@example.com`, password: PASSWORD, roles });
      await user('root', ['user', 'admin']);
      await user('mod', ['user', 'moderator']);
      await user('clientadmin', ['user', 'client-admin']);
      admin = await login(t.app, 'root');
      moderator = await login(t.app, 'mod');
      clientAdmin = await login(t.app, 'clientadmin');
    });
    after(() => t.close());

    test('POST /clients answers 201 with the metadata, client_id and the secret this once', async () => {
      const response = await call(admin, 'POST', '/clients', {
        ...WEB,
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile offline_access',
        post_logout_redirect_uris: ['https://app.example.com/bye'],
        backchannel_logout_uri: 'https://app.example.com/backchannel',
        skip_consent: true,
        audience: 'https://api.example.com',
        logo_uri: 'https://app.example.com/logo.png',
      });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json();
      assert.match(body.client_secret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(body.client_secret_expires_at, 0);
      assert.equal(body.client_id_issued_at, Math.floor(t.clock.now() / 1000));
      assert.deepEqual(
        { ...body, client_id: undefined, client_id_issued_at: undefined, client_secret: undefined },
        {
          client_type: 'confidential',
          client_name: 'Dashboard',
          redirect_uris: ['https://app.example.com/callback'],
          post_logout_redirect_uris: ['https://app.example.com/bye'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          scope: 'openid profile offline_access',
          token_endpoint_auth_method: 'client_secret_basic',
          id_token_signed_response_alg: 'RS256',
          backchannel_logout_uri: 'https://app.example.com/backchannel',
          require_pushed_authorization_requests: false,
          skip_consent: true,
          audience: 'https://api.example.com',
          client_secret_expires_at: 0,
          client_id: undefined,
          client_id_issued_at: undefined,
          client_secret: undefined,
        },
      );
      const listed = await call(admin, 'GET', '/clients');
      assert.equal(listed.statusCode, 200);
      assert.ok(!listed.body.includes(body.client_secret), 'the secret is never shown again');
      const one = await call(admin, 'GET', `/clients/${body.client_id}`);
      assert.equal(one.json().client_name, 'Dashboard');
      assert.equal(one.json().client_secret, undefined);
      assert.ok(!t.logs().includes(body.client_secret), 'the secret never reaches the log');
    });

    test('a public client gets no secret', async () => {
      const response = await call(admin, 'POST', '/clients', { ...WEB, token_endpoint_auth_method: 'none' });
      assert.equal(response.statusCode, 201);
      assert.equal(response.json().client_type, 'public');
      assert.equal(response.json().client_secret, undefined);
      assert.equal(response.json().client_secret_expires_at, undefined);
      const rotate = await call(admin, 'POST', `/clients/${response.json().client_id}/secret`);
      assert.equal(rotate.statusCode, 400);
      assert.equal(rotate.json().error, 'invalid_client_metadata');
    });

    test('refused metadata answers 400 with the RFC 7591 error', async () => {
      const bad = await call(admin, 'POST', '/clients', {
        ...WEB,
        redirect_uris: ['http://app.example.com/cb'],
      });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().error, 'invalid_redirect_uri');
      assert.match(bad.json().error_description, /redirect_uris/);
      const fragment = await call(admin, 'POST', '/clients', {
        ...WEB,
        redirect_uris: ['https://a.example/cb#x'],
      });
      assert.equal(fragment.json().error, 'invalid_redirect_uri');
      const grant = await call(admin, 'POST', '/clients', {
        ...WEB,
        token_endpoint_auth_method: 'none',
        grant_types: ['client_credentials'],
      });
      assert.equal(grant.statusCode, 400);
      assert.equal(grant.json().error, 'invalid_client_metadata');
      const missing = await call(admin, 'POST', '/clients', { redirect_uris: WEB.redirect_uris });
      assert.equal(missing.statusCode, 422);
      const wrongType = await call(admin, 'POST', '/clients', {
        ...WEB,
        redirect_uris: 'https://a.example/cb',
      });
      assert.equal(wrongType.statusCode, 422);
    });

    test('clients:read lists, clients:write changes; others get 401 or 403', async () => {
      assert.equal((await call(undefined, 'GET', '/clients')).statusCode, 401);
      assert.equal((await call(moderator, 'GET', '/clients')).statusCode, 403);
      assert.equal((await call(moderator, 'POST', '/clients', WEB)).statusCode, 403);
      const created = await call(admin, 'POST', '/clients', WEB);
      const id = created.json().client_id;
      assert.equal((await call(moderator, 'PATCH', `/clients/${id}`, { client_name: 'x' })).statusCode, 403);
      assert.equal((await call(moderator, 'DELETE', `/clients/${id}`)).statusCode, 403);
      assert.equal((await call(moderator, 'POST', `/clients/${id}/secret`)).statusCode, 403);
      const narrowed = await login(t.app, 'root', PASSWORD, 'clients:read');
      assert.equal((await call(narrowed, 'GET', '/clients')).statusCode, 200);
      assert.equal((await call(narrowed, 'POST', '/clients', WEB)).statusCode, 403);
    });

    test('the privilege ceiling: a client may be allowed only permissions the caller holds', async () => {
      const beyond = await call(clientAdmin, 'POST', '/clients', { ...WEB, scope: 'openid users:write' });
      assert.equal(beyond.statusCode, 403);
      assert.equal(beyond.json().code, 'PRIVILEGE_ESCALATION');
      const within = await call(clientAdmin, 'POST', '/clients', { ...WEB, scope: 'openid items:read' });
      assert.equal(within.statusCode, 201);
      const id = within.json().client_id;
      const widen = await call(clientAdmin, 'PATCH', `/clients/${id}`, { scope: 'openid roles:write' });
      assert.equal(widen.statusCode, 403);
      const admins = await call(admin, 'POST', '/clients', { ...WEB, scope: 'openid users:read' });
      const adminsId = admins.json().client_id;
      assert.equal((await call(clientAdmin, 'DELETE', `/clients/${adminsId}`)).statusCode, 403);
      assert.equal((await call(clientAdmin, 'POST', `/clients/${adminsId}/secret`)).statusCode, 403);
    });

    test('PATCH changes the given fields and clears with null; DELETE removes; unknown ids are 404', async () => {
      const created = await call(admin, 'POST', '/clients', { ...WEB, audience: 'https://api.example.com' });
      const id = created.json().client_id;
      const patched = await call(admin, 'PATCH', `/clients/${id}`, {
        client_name: 'Renamed',
        audience: null,
        token_endpoint_auth_method: 'client_secret_post',
      });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal(patched.json().client_name, 'Renamed');
      assert.equal(patched.json().audience, undefined);
      assert.equal(patched.json().token_endpoint_auth_method, 'client_secret_post');
      assert.deepEqual(patched.json().redirect_uris, WEB.redirect_uris);
      const toPublic = await call(admin, 'PATCH', `/clients/${id}`, { token_endpoint_auth_method: 'none' });
      assert.equal(toPublic.statusCode, 400);
      const rotated = await call(admin, 'POST', `/clients/${id}/secret`);
      assert.equal(rotated.statusCode, 200);
      assert.equal(rotated.headers['cache-control'], 'no-store');
      assert.notEqual(rotated.json().client_secret, created.json().client_secret);
      assert.equal(rotated.json().previous_secrets_expire_at, Math.floor(t.clock.now() / 1000) + 3600);
      assert.equal((await call(admin, 'DELETE', `/clients/${id}`)).statusCode, 204);
      for (const [method, url] of [
        ['GET', `/clients/${id}`],
        ['PATCH', `/clients/${id}`],
        ['DELETE', `/clients/${id}`],
        ['POST', `/clients/${id}/secret`],
      ] as const) {
        const response = await call(
          admin,
          method,
          url,
          method === 'PATCH' ? { client_name: 'x' } : undefined,
        );
        assert.equal(response.statusCode, 404, `${method} ${url}`);
        assert.deepEqual(response.json(), { detail: 'Client not found', code: 'CLIENT_NOT_FOUND' });
      }
    });

    test('POST /register still registers users, never clients', async () => {
      const response = await t.app.inject({ method: 'POST', url: '/register', payload: WEB });
      assert.equal(response.statusCode, 422);
    });
  });
}
