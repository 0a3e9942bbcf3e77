/**
 * You may grant only what you hold (the Kubernetes RBAC escalation rule): attacks by a user admin
 * (`users:write`), a role admin (`roles:write`), and an admin's narrowed token or API key, over
 * HTTP and through the services an embedding app calls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { PrivilegeEscalationError } from '../../src/auth/errors.ts';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

const ESCALATION = { detail: 'Not enough permissions', code: 'PRIVILEGE_ESCALATION' };
type Credential = Record<string, string>;
const bearer = (token: string): Credential => ({ authorization: `Bearer ${token}` });

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly body?: Record<string, unknown>;
}

/** A body that passes the operation's schema: each required property filled by its type. */
function minimalBody(schema: { required?: string[]; properties?: Record<string, { type?: string }> }) {
  const body: Record<string, unknown> = {};
  for (const name of schema.required ?? []) {
    const type = schema.properties?.[name]?.type;
    body[name] =
      type === 'boolean' ? true : type === 'array' ? [] : type === 'integer' ? 1 : 'a long enough value 1';
  }
  return body;
}

for (const database of DATABASES) {
  describe(`privilege escalation on ${database.name}`, () => {
    let t: TestApp;
    let adminToken: string;
    let adminId: string;
    let helper: { id: string };
    let helperToken: string;
    let roler: { id: string };
    let rolerToken: string;
    const send = (method: string, url: string, headers: Credential, payload?: unknown) =>
      t.app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(payload !== undefined ? { payload: payload as object } : {}),
      });
    const asAdmin = (method: string, url: string, payload?: unknown) =>
      send(method, url, bearer(adminToken), payload);
    const userById = async (id: string) => (await asAdmin('GET', `/users/${id}`)).json();
    const role = async (name: string) =>
      (await asAdmin('GET', '/roles')).json().items.find((r: { name: string }) => r.name === name);
    const assertRefused = (response: LightMyRequestResponse, what: string) => {
      assert.equal(response.statusCode, 403, `${what}: ${response.body}`);
      assert.deepEqual(response.json(), ESCALATION, what);
    };

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
      const roles = {
        useradmin: ['users:read', 'users:write'],
        roleadmin: ['roles:read', 'roles:write'],
        auditor: ['audit:read'],
      };
      for (const [name, permissions] of Object.entries(roles)) {
        assert.equal((await asAdmin('POST', '/roles', { name, permissions })).statusCode, 201);
      }
      helper = await registerUser(t.app, 'helper');
      await asAdmin('PATCH', `/users/${helper.id}`, { roles: ['user', 'useradmin'] });
      helperToken = await login(t.app, 'helper');
      roler = await registerUser(t.app, 'roler');
      await asAdmin('PATCH', `/users/${roler.id}`, { roles: ['user', 'roleadmin'] });
      rolerToken = await login(t.app, 'roler');
    });
    after(() => t.close());

    test('a users:write helper cannot give themselves admin or any role beyond what they hold', async () => {
      for (const roles of [['user', 'admin'], ['user', 'useradmin', 'auditor'], ['roleadmin']]) {
        const response = await send('PATCH', `/users/${helper.id}`, bearer(helperToken), { roles });
        assertRefused(response, roles.join(','));
      }
      assert.deepEqual((await userById(helper.id)).roles, ['user', 'useradmin']);
      assert.equal((await send('GET', '/roles', bearer(helperToken))).statusCode, 403, 'still no roles:read');
      // What they hold they may give: moderator is profile:read, profile:write and users:read.
      const alice = await registerUser(t.app, 'alice');
      const granted = await send('PATCH', `/users/${alice.id}`, bearer(helperToken), {
        roles: ['user', 'moderator'],
      });
      assert.equal(granted.statusCode, 200, granted.body);
      assert.deepEqual(granted.json().roles, ['moderator', 'user']);
    });

    test('POST /users with roles the helper lacks is refused and creates nobody', async () => {
      for (const roles of [['admin'], ['user', 'auditor']]) {
        const response = await send('POST', '/users', bearer(helperToken), {
          username: `made-${roles.length}`,
          email: `made-${roles.length}@example.com`,
          password: PASSWORD,
          roles,
        });
        assertRefused(response, roles.join(','));
      }
      assert.equal((await asAdmin('GET', '/users?q=made-')).json().total, 0);
      const allowed = await send('POST', '/users', bearer(helperToken), {
        username: 'made-ok',
        email: 'made-ok@example.com',
        password: PASSWORD,
        roles: ['user', 'moderator'],
      });
      assert.equal(allowed.statusCode, 201, allowed.body);
    });

    test('every user-targeting admin route refuses a helper, a narrowed admin token and a narrowed admin key against an admin', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      const operations: Operation[] = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
        if (!path.startsWith('/users/{id}')) continue;
        for (const [method, op] of Object.entries(item)) {
          // Reading a user's profile is users:read; everything else changes them or reads their credentials.
          if (method === 'get' && path === '/users/{id}') continue;
          const schema = (op as { requestBody?: { content?: Record<string, { schema: object }> } })
            .requestBody?.content?.['application/json']?.schema;
          if (method === 'patch') {
            for (const body of [
              { email: 'taken-over@example.com' },
              { full_name: 'Owned' },
              { disabled: true },
              { roles: ['user'] },
              { roles: ['user', 'admin', 'useradmin'] },
            ]) {
              operations.push({ method: 'PATCH', path, body });
            }
          } else {
            operations.push({
              method: method.toUpperCase(),
              path,
              ...(schema ? { body: minimalBody(schema) } : {}),
            });
          }
        }
      }
      const covered = new Set(operations.map((op) => `${op.method} ${op.path}`));
      for (const expected of ['PATCH /users/{id}', 'DELETE /users/{id}', 'DELETE /users/{id}/sessions']) {
        assert.ok(covered.has(expected), `the walk covers ${expected}`);
      }

      const narrowedToken = await login(t.app, 'root', PASSWORD, 'users:read users:write sessions:revoke');
      const created = await asAdmin('POST', '/api-keys', {
        name: 'narrow',
        scopes: ['users:read', 'users:write', 'sessions:revoke'],
      });
      assert.equal(created.statusCode, 201, created.body);
      // The helper also gets sessions:revoke, so DELETE /users/{id}/sessions passes its guard.
      await asAdmin('POST', '/roles', { name: 'revoker', permissions: ['sessions:revoke'] });
      await asAdmin('PATCH', `/users/${helper.id}`, { roles: ['user', 'useradmin', 'revoker'] });
      const credentials: [string, Credential][] = [
        ['helper token', bearer(await login(t.app, 'helper'))],
        ['narrowed admin token', bearer(narrowedToken)],
        ['narrowed admin API key', { 'x-api-key': created.json().key }],
      ];
      // Another admin is the target (the narrowed credentials are root's own).
      const other = await registerUser(t.app, 'admin2');
      await asAdmin('PATCH', `/users/${other.id}`, { roles: ['user', 'admin'] });
      const otherToken = await login(t.app, 'admin2');
      const adminBefore = await userById(other.id);
      for (const [name, credential] of credentials) {
        for (const op of operations) {
          const response = await send(op.method, op.path.replace('{id}', other.id), credential, op.body);
          const what = `${name}: ${op.method} ${op.path} ${JSON.stringify(op.body ?? {})}`;
          // An API key never counts as a recent sign-in, so an email change is refused before the ceiling.
          if ('x-api-key' in credential && op.body !== undefined && 'email' in (op.body as object)) {
            assert.equal(response.statusCode, 401, `${what}: ${response.body}`);
            assert.equal(response.json().code, 'REAUTH_REQUIRED', what);
          } else assertRefused(response, what);
        }
      }
      assert.deepEqual(await userById(other.id), adminBefore, 'the admin is unchanged');
      const alive = await send('GET', '/users/me', bearer(otherToken));
      assert.equal(alive.statusCode, 200, "the admin's sessions live on");
      await asAdmin('PATCH', `/users/${helper.id}`, { roles: ['user', 'useradmin'] });
    });

    test('every operation whose body grants roles or permissions refuses what the actor lacks', async () => {
      // A deputy who may write users and roles, but not read the audit log nor be admin.
      await asAdmin('POST', '/roles', {
        name: 'deputy',
        permissions: ['users:read', 'users:write', 'roles:read', 'roles:write'],
      });
      const deputy = await registerUser(t.app, 'deputy');
      await asAdmin('PATCH', `/users/${deputy.id}`, { roles: ['user', 'deputy'] });
      const credential = bearer(await login(t.app, 'deputy'));
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      const walked: string[] = [];
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
        for (const [method, op] of Object.entries(item)) {
          const schema = (
            op as {
              requestBody?: { content?: Record<string, { schema: Parameters<typeof minimalBody>[0] }> };
            }
          ).requestBody?.content?.['application/json']?.schema;
          const grants = Object.keys(schema?.properties ?? {}).filter(
            (p) => p === 'roles' || p === 'permissions',
          );
          if (schema === undefined || grants.length === 0) continue;
          for (const field of grants) {
            const body = {
              ...minimalBody(schema),
              ...(schema.properties?.username ? { username: 'grantee', email: 'grantee@example.com' } : {}),
              ...(schema.properties?.name ? { name: 'granted' } : {}),
              [field]: field === 'roles' ? ['user', 'admin'] : ['users:read', 'audit:read'],
            };
            const url = path.replace('{id}', deputy.id).replace('{name}', 'deputy');
            const response = await send(method.toUpperCase(), url, credential, body);
            assertRefused(response, `${method.toUpperCase()} ${path} ${field}`);
            walked.push(`${method.toUpperCase()} ${path}`);
          }
        }
      }
      for (const expected of ['POST /users', 'PATCH /users/{id}', 'POST /roles', 'PATCH /roles/{name}']) {
        assert.ok(walked.includes(expected), `the walk covers ${expected}`);
      }
      assert.deepEqual((await userById(deputy.id)).roles, ['deputy', 'user']);
      assert.equal(
        (await role('deputy')).permissions.includes('audit:read'),
        false,
        'the deputy role gained nothing',
      );
      assert.equal(await role('granted'), undefined);
      assert.equal((await asAdmin('GET', '/users?q=grantee')).json().total, 0);
    });

    test('taking a role away from someone who holds a permission the helper lacks is refused', async () => {
      const auditor = await registerUser(t.app, 'aud');
      await asAdmin('PATCH', `/users/${auditor.id}`, { roles: ['user', 'auditor'] });
      for (const payload of [{ roles: ['user'] }, { email: 'mine@example.com' }, { disabled: true }]) {
        assertRefused(
          await send('PATCH', `/users/${auditor.id}`, bearer(helperToken), payload),
          JSON.stringify(payload),
        );
      }
      assertRefused(await send('DELETE', `/users/${auditor.id}`, bearer(helperToken)), 'delete');
      assert.deepEqual((await userById(auditor.id)).roles, ['auditor', 'user']);
      // A user who holds nothing beyond the helper's permissions is theirs to change.
      const plain = await registerUser(t.app, 'plain');
      for (const [method, url, payload, status] of [
        ['PATCH', `/users/${plain.id}`, { full_name: 'Plain', disabled: true }, 200],
        ['PATCH', `/users/${plain.id}`, { disabled: false, roles: ['user'] }, 200],
        ['DELETE', `/users/${plain.id}`, undefined, 204],
      ] as const) {
        const response = await send(method, url, bearer(helperToken), payload);
        assert.equal(response.statusCode, status, `${method} ${response.body}`);
      }
    });

    test('a roles:write holder cannot add permissions they lack to a role, nor touch a role above them', async () => {
      const before = await role('roleadmin');
      const widened = await send('PATCH', '/roles/roleadmin', bearer(rolerToken), {
        permissions: [...before.permissions, 'users:write', 'audit:read', 'apikeys:write'],
      });
      assertRefused(widened, 'widen own role');
      assert.deepEqual(await role('roleadmin'), before);
      assertRefused(
        await send('POST', '/roles', bearer(rolerToken), { name: 'sneaky', permissions: ['users:write'] }),
        'create a role above oneself',
      );
      assert.equal(await role('sneaky'), undefined);
      for (const [method, url, payload] of [
        ['PATCH', '/roles/admin', { description: 'mine now' }],
        ['PATCH', '/roles/auditor', { permissions: [] }],
        ['PATCH', '/roles/useradmin', { permissions: ['roles:read'] }],
        ['DELETE', '/roles/auditor?force=true', undefined],
      ] as const) {
        assertRefused(await send(method, url, bearer(rolerToken), payload), `${method} ${url}`);
      }
      assert.deepEqual((await role('auditor')).permissions, ['audit:read']);
      // Within their reach: a role of permissions they hold, changed and deleted.
      const own = await send('POST', '/roles', bearer(rolerToken), {
        name: 'readers',
        permissions: ['roles:read'],
      });
      assert.equal(own.statusCode, 201, own.body);
      const changed = await send('PATCH', '/roles/readers', bearer(rolerToken), {
        description: 'Read roles',
      });
      assert.equal(changed.statusCode, 200, changed.body);
      // Deleting with force takes it from its holders: refused while one of them is above the actor.
      await asAdmin('PATCH', `/users/${adminId}`, { roles: ['user', 'admin', 'readers'] });
      assertRefused(
        await send('DELETE', '/roles/readers?force=true', bearer(rolerToken)),
        'force over an admin',
      );
      await asAdmin('PATCH', `/users/${adminId}`, { roles: ['user', 'admin'] });
      assert.equal((await send('DELETE', '/roles/readers', bearer(rolerToken))).statusCode, 204);
    });

    test("a narrowed admin token or key cannot grant what it doesn't carry; the full admin can grant anything", async () => {
      const target = await registerUser(t.app, 'target');
      const narrowed = await login(t.app, 'root', PASSWORD, 'users:read users:write');
      const key = (
        await asAdmin('POST', '/api-keys', { name: 'ops', scopes: ['users:read', 'users:write'] })
      ).json().key;
      for (const [name, credential] of [
        ['token', bearer(narrowed)],
        ['key', { 'x-api-key': key }],
      ] as const) {
        assertRefused(
          await send('PATCH', `/users/${target.id}`, credential, { roles: ['user', 'admin'] }),
          `${name}: admin`,
        );
        assertRefused(
          await send('POST', '/users', credential, {
            username: `by-${name}`,
            email: `by-${name}@example.com`,
            password: PASSWORD,
            roles: ['user', 'useradmin'],
          }),
          `${name}: create`,
        );
      }
      const roleKey = (await asAdmin('POST', '/api-keys', { name: 'roles', scopes: ['roles:write'] })).json()
        .key;
      assertRefused(
        await send(
          'POST',
          '/roles',
          { 'x-api-key': roleKey },
          { name: 'keyed', permissions: ['audit:read'] },
        ),
        'key: role with audit:read',
      );
      // The full admin: any role, including one of an app's own permissions the admin role lacks.
      assert.equal(
        (await asAdmin('POST', '/roles', { name: 'editor', permissions: ['items:write'] })).statusCode,
        201,
      );
      const promoted = await asAdmin('PATCH', `/users/${target.id}`, { roles: ['user', 'editor', 'admin'] });
      assert.equal(promoted.statusCode, 200, promoted.body);
      await asAdmin('PATCH', `/users/${target.id}`, { roles: ['user'] });
    });

    test('an apikeys:write holder cannot list or revoke the API keys of a user above them', async () => {
      await asAdmin('POST', '/roles', { name: 'keyadmin', permissions: ['apikeys:write'] });
      const keeper = await registerUser(t.app, 'keeper');
      await asAdmin('PATCH', `/users/${keeper.id}`, { roles: ['user', 'keyadmin'] });
      const keeperToken = bearer(await login(t.app, 'keeper'));
      const rootKey = (
        await asAdmin('POST', '/api-keys', { name: 'root-key', scopes: ['users:read'] })
      ).json();
      const carl = await registerUser(t.app, 'carl');
      const carlKey = (
        await send('POST', '/api-keys', bearer(await login(t.app, 'carl')), {
          name: 'carl-key',
          scopes: ['profile:read'],
        })
      ).json();
      assertRefused(await send('GET', `/api-keys?user_id=${adminId}`, keeperToken), 'list the admin keys');
      const everyone = await send('GET', '/api-keys?user_id=*', keeperToken);
      assert.equal(everyone.statusCode, 200);
      const ids = everyone.json().items.map((k: { id: string }) => k.id);
      assert.ok(ids.includes(carlKey.id), "a plain user's key is listed");
      assert.ok(!ids.includes(rootKey.id), "the admin's key is left out");
      assertRefused(await send('DELETE', `/api-keys/${rootKey.id}`, keeperToken), "revoke the admin's key");
      assert.equal(
        (await send('GET', '/users/me', { 'x-api-key': rootKey.key })).statusCode,
        403,
        'still valid',
      );
      assert.equal((await send('GET', `/users/${carl.id}`, { 'x-api-key': rootKey.key })).statusCode, 200);
      assert.equal((await send('DELETE', `/api-keys/${carlKey.id}`, keeperToken)).statusCode, 204);
      assert.ok(
        (await asAdmin('GET', `/api-keys?user_id=*`))
          .json()
          .items.some((k: { id: string }) => k.id === rootKey.id),
        'the admin sees every key',
      );
    });

    test('the services refuse the same for a user actor; the operator has no ceiling', async () => {
      const { userAdmin, roles } = t.gatehouse;
      const actor = {
        kind: 'user' as const,
        userId: helper.id,
        permissions: roles.permissionsOf(['user', 'useradmin']),
      };
      await assert.rejects(
        userAdmin.update(actor, helper.id, { roles: ['user', 'admin'] }),
        PrivilegeEscalationError,
      );
      await assert.rejects(
        userAdmin.update(actor, adminId, { email: 'x@example.com' }),
        PrivilegeEscalationError,
      );
      await assert.rejects(userAdmin.delete(actor, adminId), PrivilegeEscalationError);
      await assert.rejects(
        userAdmin.revokeSessions(actor, adminId, { ip: null, userAgent: null }),
        PrivilegeEscalationError,
      );
      await assert.rejects(
        userAdmin.create(actor, {
          username: 'svc',
          email: 'svc@example.com',
          password: PASSWORD,
          roles: ['admin'],
        }),
        PrivilegeEscalationError,
      );
      await assert.rejects(roles.createRole(actor, 'svc', '', ['audit:read']), PrivilegeEscalationError);
      const operator = operatorActor('test');
      const promoted = await userAdmin.update(operator, helper.id, { roles: ['user', 'admin'] });
      assert.deepEqual(promoted.roles, ['admin', 'user']);
      await userAdmin.update(operator, helper.id, { roles: ['user', 'useradmin'] });
    });
  });
}
