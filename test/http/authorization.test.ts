import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

for (const database of DATABASES) {
  describe(`authorization on ${database.name}`, () => {
    let t: TestApp;
    let adminToken: string;
    let adminId: string;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      const admin = await t.gatehouse.accounts.register({
        username: 'root',
        email: 'root@example.com',
        password: PASSWORD,
        roles: ['user', 'admin'],
      });
      adminId = admin.id;
      adminToken = await login(t.app, 'root');
      await registerUser(t.app, 'alice');
    });
    after(() => t.close());

    const get = (url: string, token: string) => t.app.inject({ method: 'GET', url, headers: auth(token) });

    test('after migration the built-in roles carry the documented permissions', async () => {
      const { items } = (await get('/roles', adminToken)).json();
      const byName = Object.fromEntries(
        items.map((r: { name: string; permissions: string[] }) => [r.name, r.permissions]),
      );
      assert.deepEqual(byName.user, ['profile:read', 'profile:write']);
      assert.deepEqual(byName.moderator, ['profile:read', 'profile:write', 'users:read']);
      assert.deepEqual(byName.admin, [
        'apikeys:write',
        'audit:read',
        'clients:read',
        'clients:write',
        'profile:read',
        'profile:write',
        'roles:read',
        'roles:write',
        'sessions:revoke',
        'users:read',
        'users:write',
      ]);
    });

    test('the granted scope is the requested scopes the user holds; none requested means all of them', async () => {
      assert.equal(
        decodeJwt(adminToken).scope,
        'apikeys:write audit:read clients:read clients:write profile:read profile:write roles:read roles:write sessions:revoke users:read users:write',
      );
      const form = (scope: string) =>
        new URLSearchParams({ username: 'alice', password: PASSWORD, scope }).toString();
      const response = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form('users:read profile:read'),
      });
      assert.equal(response.statusCode, 200, 'asking for a scope one lacks is not an error');
      assert.equal(response.json().scope, 'profile:read');
    });

    test('a missing scope answers 403 Not enough permissions with an insufficient_scope challenge naming it', async () => {
      const aliceToken = await login(t.app, 'alice');
      const response = await get('/users', aliceToken);
      assert.equal(response.statusCode, 403);
      assert.deepEqual(response.json(), { detail: 'Not enough permissions' });
      assert.equal(
        response.headers['www-authenticate'],
        'Bearer error="insufficient_scope", scope="users:read"',
      );
    });

    test('a token narrowed at login keeps its narrow scope even for an admin', async () => {
      const narrow = await login(t.app, 'root', PASSWORD, 'profile:read');
      assert.equal((await get('/users', narrow)).statusCode, 403);
      assert.equal((await get('/users/me', narrow)).statusCode, 200);
    });

    test('/users/me needs profile:read and a password change profile:write, as in FastAPI SecurityScopes', async () => {
      const usersOnly = await login(t.app, 'root', PASSWORD, 'users:read');
      const me = await get('/users/me', usersOnly);
      assert.equal(me.statusCode, 403);
      assert.equal(me.headers['www-authenticate'], 'Bearer error="insufficient_scope", scope="profile:read"');
      const readOnly = await login(t.app, 'root', PASSWORD, 'profile:read');
      const change = await t.app.inject({
        method: 'POST',
        url: '/users/me/password',
        headers: { authorization: `Bearer ${readOnly}` },
        payload: { current_password: PASSWORD, new_password: 'another horse battery staple' },
      });
      assert.equal(change.statusCode, 403);
      assert.equal(
        change.headers['www-authenticate'],
        'Bearer error="insufficient_scope", scope="profile:write"',
      );
      assert.equal((await login(t.app, 'root', PASSWORD)).length > 0, true, 'the password did not change');
    });

    test('a role taken away takes effect on the next request of a token that still lists its scope', async () => {
      const mod = await registerUser(t.app, 'mod');
      await t.app.inject({
        method: 'PATCH',
        url: `/users/${mod.id}`,
        headers: auth(adminToken),
        payload: { roles: ['user', 'moderator'] },
      });
      const modToken = await login(t.app, 'mod');
      assert.match(String(decodeJwt(modToken).scope), /users:read/);
      assert.equal((await get('/users', modToken)).statusCode, 200);
      const demote = await t.app.inject({
        method: 'PATCH',
        url: `/users/${mod.id}`,
        headers: auth(adminToken),
        payload: { roles: ['user'] },
      });
      assert.equal(demote.statusCode, 200);
      assert.deepEqual(demote.json().roles, ['user']);
      assert.equal((await get('/users', modToken)).statusCode, 403);
    });

    test('a permission removed from a role takes effect at once for its holders', async () => {
      await t.app.inject({
        method: 'POST',
        url: '/roles',
        headers: auth(adminToken),
        payload: { name: 'auditor', permissions: ['audit:read'] },
      });
      const aud = await registerUser(t.app, 'aud');
      await t.app.inject({
        method: 'PATCH',
        url: `/users/${aud.id}`,
        headers: auth(adminToken),
        payload: { roles: ['user', 'auditor'] },
      });
      const audToken = await login(t.app, 'aud');
      assert.equal((await get('/audit', audToken)).statusCode, 200);
      await t.app.inject({
        method: 'PATCH',
        url: '/roles/auditor',
        headers: auth(adminToken),
        payload: { permissions: [] },
      });
      assert.equal((await get('/audit', audToken)).statusCode, 403);
    });

    test('an admin cannot disable themselves, drop their own admin role, or delete themselves', async () => {
      for (const payload of [{ disabled: true }, { roles: ['user'] }]) {
        const response = await t.app.inject({
          method: 'PATCH',
          url: `/users/${adminId}`,
          headers: auth(adminToken),
          payload,
        });
        assert.equal(response.statusCode, 409, JSON.stringify(payload));
        assert.equal(typeof response.json().detail, 'string');
      }
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/users/${adminId}`,
        headers: auth(adminToken),
      });
      assert.equal(deleted.statusCode, 409);
      assert.equal((await get('/users/me', adminToken)).statusCode, 200);
    });

    test('the last enabled admin cannot be demoted, disabled or deleted by another user admin', async () => {
      // Another user who holds every permission of the admin role may change admins (a user
      // admin holding less may not touch them at all: test/http/privilege-escalation.test.ts).
      const everything = (await get('/roles', adminToken))
        .json()
        .items.find((r: { name: string }) => r.name === 'admin').permissions;
      await t.app.inject({
        method: 'POST',
        url: '/roles',
        headers: auth(adminToken),
        payload: { name: 'superuser', permissions: everything },
      });
      const helper = await registerUser(t.app, 'helperadmin');
      await t.app.inject({
        method: 'PATCH',
        url: `/users/${helper.id}`,
        headers: auth(adminToken),
        payload: { roles: ['user', 'superuser'] },
      });
      const helperToken = await login(t.app, 'helperadmin');
      for (const [method, payload] of [
        ['PATCH', { roles: ['user'] }],
        ['PATCH', { disabled: true }],
        ['DELETE', undefined],
      ] as const) {
        const response = await t.app.inject({
          method,
          url: `/users/${adminId}`,
          headers: auth(helperToken),
          ...(payload ? { payload } : {}),
        });
        assert.equal(response.statusCode, 409, `${method} ${JSON.stringify(payload)}`);
      }
      // With a second admin, the first may be demoted.
      const second = await registerUser(t.app, 'secondadmin');
      await t.app.inject({
        method: 'PATCH',
        url: `/users/${second.id}`,
        headers: auth(adminToken),
        payload: { roles: ['user', 'admin'] },
      });
      const demoted = await t.app.inject({
        method: 'PATCH',
        url: `/users/${second.id}`,
        headers: auth(helperToken),
        payload: { roles: ['user'] },
      });
      assert.equal(demoted.statusCode, 200);
    });

    test('GET /users pages with skip/limit and total, and filters by q, role and disabled', async () => {
      for (const name of ['pag1', 'pag2', 'pag3']) await registerUser(t.app, name);
      const page = (await get('/users?skip=0&limit=2', adminToken)).json();
      assert.equal(page.items.length, 2);
      assert.equal(typeof page.total, 'number');
      assert.ok(page.total >= 5);
      assert.equal(typeof page.next_cursor, 'string');
      const q = (await get('/users?q=PAG', adminToken)).json();
      assert.deepEqual(q.items.map((u: { username: string }) => u.username).sort(), ['pag1', 'pag2', 'pag3']);
      const admins = (await get('/users?role=admin', adminToken)).json();
      assert.ok(admins.items.every((u: { roles: string[] }) => u.roles.includes('admin')));
      assert.equal((await get('/users?limit=501', adminToken)).statusCode, 422);
      const pctl = (await get('/users?q=%25', adminToken)).json();
      assert.equal(pctl.items.length, 0, '% is a literal, not a wildcard');
      const disabled = (await get('/users?disabled=true', adminToken)).json();
      assert.ok(disabled.items.every((u: { disabled: boolean }) => u.disabled));
    });

    test('cursor pagination sees every existing user exactly once while users are being added', async () => {
      const existing = (await get('/users?limit=500', adminToken))
        .json()
        .items.map((u: { id: string }) => u.id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let added = 0;
      do {
        const url: string = `/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const body = (await get(url, adminToken)).json();
        assert.equal(body.total, cursor ? null : body.total);
        seen.push(...body.items.map((u: { id: string }) => u.id));
        cursor = body.next_cursor;
        // Concurrent inserts between pages.
        await Promise.all([registerUser(t.app, `late${added++}`), registerUser(t.app, `late${added++}`)]);
      } while (cursor !== null && added < 200);
      assert.equal(new Set(seen).size, seen.length, 'no duplicates');
      for (const id of existing) assert.ok(seen.includes(id), 'no existing user skipped');
      assert.equal((await get('/users?cursor=not-a-cursor', adminToken)).statusCode, 422);
    });

    test('GET, PATCH and DELETE /users/{id} read, change and remove a user; delete revokes their tokens', async () => {
      const victim = await registerUser(t.app, 'victim');
      const victimToken = await login(t.app, 'victim');
      assert.equal((await get(`/users/${victim.id}`, adminToken)).json().username, 'victim');
      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/users/${victim.id}`,
        headers: auth(adminToken),
        payload: { full_name: 'Vic Tim', email: 'vic@example.com' },
      });
      assert.equal(patched.statusCode, 200);
      assert.equal(patched.json().full_name, 'Vic Tim');
      assert.equal(patched.json().email, 'vic@example.com');
      const dupEmail = await t.app.inject({
        method: 'PATCH',
        url: `/users/${victim.id}`,
        headers: auth(adminToken),
        payload: { email: 'ROOT@example.com' },
      });
      assert.equal(dupEmail.statusCode, 400);
      const badRole = await t.app.inject({
        method: 'PATCH',
        url: `/users/${victim.id}`,
        headers: auth(adminToken),
        payload: { roles: ['emperor'] },
      });
      assert.equal(badRole.statusCode, 422);
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/users/${victim.id}`,
        headers: auth(adminToken),
      });
      assert.equal(deleted.statusCode, 204);
      assert.equal((await get('/users/me', victimToken)).statusCode, 401);
      assert.equal((await get(`/users/${victim.id}`, adminToken)).statusCode, 404);
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: `/users/${victim.id}`, headers: auth(adminToken) }))
          .statusCode,
        404,
      );
    });

    test("POST /users creates a user with roles (201); an admin can revoke a user's sessions", async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/users',
        headers: auth(adminToken),
        payload: {
          username: 'made',
          email: 'made@example.com',
          password: PASSWORD,
          roles: ['user', 'moderator'],
        },
      });
      assert.equal(created.statusCode, 201);
      assert.deepEqual(created.json().roles, ['moderator', 'user']);
      const madeToken = await login(t.app, 'made');
      const revoke = await t.app.inject({
        method: 'DELETE',
        url: `/users/${created.json().id}/sessions`,
        headers: auth(adminToken),
      });
      assert.equal(revoke.statusCode, 204);
      assert.equal((await get('/users/me', madeToken)).statusCode, 401);
    });

    test('roles: custom roles with custom permissions; built-in roles stay; a role in use needs force', async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/roles',
        headers: auth(adminToken),
        payload: { name: 'pro', description: 'Paid plan', permissions: ['items:write', 'items:read'] },
      });
      assert.equal(created.statusCode, 201);
      assert.deepEqual(created.json(), {
        name: 'pro',
        description: 'Paid plan',
        builtin: false,
        permissions: ['items:read', 'items:write'],
      });
      assert.equal(
        (
          await t.app.inject({
            method: 'POST',
            url: '/roles',
            headers: auth(adminToken),
            payload: { name: 'pro' },
          })
        ).statusCode,
        409,
      );
      assert.equal(
        (
          await t.app.inject({
            method: 'POST',
            url: '/roles',
            headers: auth(adminToken),
            payload: { name: 'Bad Name' },
          })
        ).statusCode,
        422,
      );
      assert.equal(
        (
          await t.app.inject({
            method: 'POST',
            url: '/roles',
            headers: auth(adminToken),
            payload: { name: 'x', permissions: ['has space'] },
          })
        ).statusCode,
        422,
      );
      const proUser = await registerUser(t.app, 'paying');
      await t.app.inject({
        method: 'PATCH',
        url: `/users/${proUser.id}`,
        headers: auth(adminToken),
        payload: { roles: ['user', 'pro'] },
      });
      assert.match(
        (
          await t.app.inject({
            method: 'POST',
            url: '/token',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: `username=paying&password=${encodeURIComponent(PASSWORD)}`,
          })
        ).json().scope,
        /items:write/,
      );
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: '/roles/admin', headers: auth(adminToken) })).statusCode,
        409,
      );
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: '/roles/pro', headers: auth(adminToken) })).statusCode,
        409,
      );
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: '/roles/pro?force=true', headers: auth(adminToken) }))
          .statusCode,
        204,
      );
      assert.deepEqual((await get(`/users/${proUser.id}`, adminToken)).json().roles, ['user']);
      assert.equal(
        (
          await t.app.inject({
            method: 'PATCH',
            url: '/roles/admin',
            headers: auth(adminToken),
            payload: { permissions: ['profile:read'] },
          })
        ).statusCode,
        422,
      );
      assert.equal(
        (
          await t.app.inject({
            method: 'PATCH',
            url: '/roles/nope',
            headers: auth(adminToken),
            payload: { description: 'x' },
          })
        ).statusCode,
        404,
      );
    });

    test('GET /audit needs audit:read and pages with a cursor', async () => {
      const aliceToken = await login(t.app, 'alice');
      assert.equal((await get('/audit', aliceToken)).statusCode, 403);
      const first = (await get('/audit?event=login.succeeded&limit=2', adminToken)).json();
      assert.equal(first.items.length, 2);
      assert.ok(first.items.every((e: { event: string }) => e.event === 'login.succeeded'));
      const second = (
        await get(`/audit?event=login.succeeded&limit=2&cursor=${first.next_cursor}`, adminToken)
      ).json();
      assert.ok(second.items.length > 0);
      const ids = [...first.items, ...second.items].map((e: { id: string }) => e.id);
      assert.equal(new Set(ids).size, ids.length);
      const mine = (await get(`/audit?user_id=${adminId}`, adminToken)).json();
      assert.ok(mine.items.every((e: { user_id: string }) => e.user_id === adminId));
    });

    test('the OpenAPI document shows the scopes each route needs', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      assert.deepEqual(doc.paths['/users'].get.security[0], { OAuth2PasswordBearer: ['users:read'] });
      assert.deepEqual(doc.paths['/roles'].post.security[0], { OAuth2PasswordBearer: ['roles:write'] });
      assert.deepEqual(doc.paths['/users/me'].get.security[0], { OAuth2PasswordBearer: ['profile:read'] });
      assert.deepEqual(doc.paths['/users/me/password'].post.security[0], {
        OAuth2PasswordBearer: ['profile:write'],
      });
      assert.deepEqual(doc.paths['/protected'].get.security[0], { OAuth2PasswordBearer: [] });
      assert.ok(doc.components.securitySchemes.APIKeyHeader);
      assert.ok(
        Object.keys(doc.components.securitySchemes.OAuth2PasswordBearer.flows.password.scopes).includes(
          'audit:read',
        ),
      );
    });
  });
}
