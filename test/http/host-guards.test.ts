/**
 * Guards on an embedding app's own routes: a role guard honours a narrowed credential, and the
 * principal a host route sees is the public user (no password hash).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { gatehousePlugin } from '../../src/index.ts';
import { createVerifier } from '../../src/verify/index.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

for (const database of DATABASES) {
  describe(`guards on a host app's routes (${database.name})`, () => {
    let t: TestApp;
    let host: FastifyInstance;
    let adminToken: string;
    let adminPermissions: string[];
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      host = Fastify();
      await host.register(gatehousePlugin, { gatehouse: t.gatehouse });
      const { guards } = host.gatehouse;
      host.get('/admin-area', { onRequest: guards.requireRoles('admin') }, async () => ({ ok: true }));
      host.get('/staff-area', { onRequest: guards.requireRoles('moderator', 'admin') }, async () => ({
        ok: true,
      }));
      host.get('/whoami', { onRequest: guards.requireUser }, async (request) => request.principal?.user);
      await host.ready();
      await t.gatehouse.accounts.register({
        username: 'root',
        email: 'root@example.com',
        password: PASSWORD,
        roles: ['user', 'admin'],
      });
      adminToken = await login(host, 'root');
      adminPermissions = [...t.gatehouse.roles.permissionsOf(['admin'])];
    });
    after(async () => {
      await host.close();
      await t.close();
    });
    const get = (url: string, headers: Record<string, string>) =>
      host.inject({ method: 'GET', url, headers });
    const apiKey = async (scopes: string[]) => {
      const created = await host.inject({
        method: 'POST',
        url: '/api-keys',
        headers: bearer(adminToken),
        payload: { name: `key-${scopes.length}`, scopes },
      });
      assert.equal(created.statusCode, 201, created.body);
      return { 'x-api-key': created.json().key as string };
    };

    test('requireRoles passes a full-scope token, a cookie session and a key carrying every permission of the role', async () => {
      assert.equal((await get('/admin-area', bearer(adminToken))).statusCode, 200);
      const everyScope = await login(host, 'root', PASSWORD, adminPermissions.join(' '));
      assert.equal((await get('/admin-area', bearer(everyScope))).statusCode, 200);
      assert.equal((await get('/admin-area', await apiKey(adminPermissions))).statusCode, 200);
      const cookieLogin = await host.inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'root', password: PASSWORD },
      });
      assert.equal(cookieLogin.statusCode, 200, cookieLogin.body);
      const cookie = String(cookieLogin.headers['set-cookie']).split(';')[0] ?? '';
      assert.equal((await get('/admin-area', { cookie })).statusCode, 200);
    });

    test("requireRoles refuses an admin's narrowed token or API key", async () => {
      const narrowed = await login(host, 'root', PASSWORD, 'profile:read');
      const almost = await login(host, 'root', PASSWORD, adminPermissions.slice(1).join(' '));
      for (const [name, headers] of [
        ['token with scope=profile:read', bearer(narrowed)],
        ['token missing one admin permission', bearer(almost)],
        ['API key with no scopes', await apiKey([])],
        ['API key with users:read', await apiKey(['users:read'])],
      ] as const) {
        const response = await get('/admin-area', headers);
        assert.equal(response.statusCode, 403, name);
        assert.deepEqual(response.json(), { detail: 'Not enough permissions' }, name);
        assert.equal(response.headers['www-authenticate'], 'Bearer error="insufficient_scope"', name);
      }
    });

    test('with several roles, one held through the credential is enough', async () => {
      // moderator is profile:read, profile:write and users:read: a token narrowed to those holds it.
      const modScopes = [...t.gatehouse.roles.permissionsOf(['moderator'])].join(' ');
      const staff = await registerUser(host, 'staff');
      await t.gatehouse.accounts.setRoles(staff.id, ['user', 'moderator']);
      assert.equal((await get('/staff-area', bearer(await login(host, 'staff')))).statusCode, 200);
      const staffNarrowed = await login(host, 'staff', PASSWORD, modScopes);
      assert.equal((await get('/staff-area', bearer(staffNarrowed))).statusCode, 200);
      // The role itself must be held: root (admin, not moderator) with moderator's scopes is neither.
      assert.equal(
        (await get('/staff-area', bearer(await login(host, 'root', PASSWORD, modScopes)))).statusCode,
        403,
      );
      const narrowed = await login(host, 'staff', PASSWORD, 'profile:read');
      assert.equal((await get('/staff-area', bearer(narrowed))).statusCode, 403);
      assert.equal((await get('/admin-area', bearer(await login(host, 'staff')))).statusCode, 403);
    });

    test("a resource server's requireRoles refuses an admin's narrowed token: its roles claim names only roles it carries whole", async () => {
      const address = await host.listen({ host: '127.0.0.1', port: 0 });
      const verifier = createVerifier({
        issuer: 'http://gatehouse.test',
        jwksUri: `${address}/.well-known/jwks.json`,
      });
      const resource = Fastify();
      resource.get('/admin-area', { onRequest: verifier.guards.requireRoles('admin') }, async () => ({
        ok: true,
      }));
      await resource.ready();
      try {
        const call = async (token: string) =>
          (await resource.inject({ method: 'GET', url: '/admin-area', headers: bearer(token) })).statusCode;
        assert.equal(await call(adminToken), 200);
        assert.equal(await call(await login(host, 'root', PASSWORD, adminPermissions.join(' '))), 200);
        const narrowed = await login(host, 'root', PASSWORD, 'profile:read');
        assert.equal(await call(narrowed), 403);
        assert.equal(
          await call(await login(host, 'root', PASSWORD, adminPermissions.slice(1).join(' '))),
          403,
        );
        const claims = JSON.parse(Buffer.from(narrowed.split('.')[1] ?? '', 'base64url').toString());
        assert.deepEqual(
          claims.roles,
          [],
          'profile:read carries no role whole (user also grants profile:write)',
        );
      } finally {
        await resource.close();
      }
    });

    test('a host route returning principal.user sends the public user, never the password hash', async () => {
      for (const headers of [bearer(adminToken), await apiKey(['profile:read'])]) {
        const response = await get('/whoami', headers);
        assert.equal(response.statusCode, 200);
        assert.doesNotMatch(response.body, /password|\$argon2/i);
        assert.deepEqual(response.json(), (await get('/users/me', bearer(adminToken))).json());
      }
    });
  });
}
