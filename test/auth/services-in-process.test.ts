/**
 * Calling a service in-process does what its HTTP route does: the route adds nothing but
 * transport. An embedding app (through `app.gatehouse.services`) and the CLI get the same mail,
 * the same scope grant and the same locking as an API client.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { InvalidScopeError } from '../../src/auth/errors.ts';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { NO_REQUEST } from '../../src/auth/request-context.ts';
import {
  createTestApp,
  DATABASES,
  PASSWORD,
  registerUser,
  TEST_DATABASE_URL,
  type TestApp,
} from '../support/gatehouse.ts';
import { tokenGrant, withMailApp } from '../support/mail-app.ts';
import { mailTo, tokenFrom } from '../support/smtp.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const renameMe = (t: TestApp, accessToken: string) =>
  t.app.inject({
    method: 'PATCH',
    url: '/users/me',
    headers: bearer(accessToken),
    payload: { full_name: 'Alice A.' },
  });

async function tokenOf(t: TestApp, form: Record<string, string>) {
  const response = await tokenGrant(t, form);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as { access_token: string; refresh_token: string; scope: string };
}

for (const database of DATABASES) {
  describe(`services called in-process (${database.name})`, () => {
    test('accounts.register mails the verification link, as POST /register does', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver }) => {
        const { accounts } = t.app.gatehouse.services;
        const user = await accounts.register({
          username: 'carol',
          email: 'carol@example.com',
          password: PASSWORD,
        });
        await registerUser(t.app, 'dave');
        await deliver();
        const [viaService] = mailTo(smtp.messages, 'carol@example.com');
        const [viaRoute] = mailTo(smtp.messages, 'dave@example.com');
        assert.ok(viaService, 'the in-process registration mailed a verification link');
        assert.ok(viaRoute);
        assert.equal(viaService.subject, viaRoute.subject);
        const token = tokenFrom(viaService, '/verify-email');
        assert.equal(
          (await t.app.inject({ method: 'POST', url: '/verify', payload: { token } })).statusCode,
          204,
        );
        assert.equal((await accounts.getUserOrThrow(user.id)).emailVerified, true);
      });
    });

    test('a user created by an admin or the operator gets no verification mail, as with POST /users', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver }) => {
        const { userAdmin, accounts } = t.app.gatehouse.services;
        await userAdmin.create(operatorActor('test'), {
          username: 'erin',
          email: 'erin@example.com',
          password: PASSWORD,
        });
        await accounts.register(
          { username: 'frank', email: 'frank@example.com', password: PASSWORD },
          NO_REQUEST,
          'cli',
        );
        await registerUser(t.app, 'gina');
        await deliver();
        assert.deepEqual(
          smtp.messages.map((m) => m.to && ('text' in m.to ? m.to.text : '')),
          ['gina@example.com'],
        );
      });
    });

    test('the scope grant of a password login narrows in the session service as at POST /token', async () => {
      const t = await createTestApp({ databaseUrl: database.url });
      try {
        await registerUser(t.app, 'alice');
        const requested = 'profile:read users:write not"a-scope';
        const viaRoute = await tokenOf(t, { username: 'alice', password: PASSWORD, scope: requested });
        const { sessions } = t.app.gatehouse.services;
        const viaService = await sessions.loginWithPassword(
          'alice',
          PASSWORD,
          { scope: requested },
          NO_REQUEST,
        );
        assert.equal(viaRoute.scope, 'profile:read');
        assert.equal(viaService.tokens.scope, viaRoute.scope);
        const everything = await sessions.loginWithPassword('alice', PASSWORD, {}, NO_REQUEST);
        const viaRouteAll = await tokenOf(t, { username: 'alice', password: PASSWORD });
        assert.equal(everything.tokens.scope, viaRouteAll.scope);
        assert.ok(everything.tokens.scope.split(' ').includes('profile:write'));
      } finally {
        await t.close();
      }
    });

    test('a refresh asking beyond the grant is refused by the session service as at POST /token', async () => {
      const t = await createTestApp({ databaseUrl: database.url });
      try {
        await registerUser(t.app, 'alice');
        const { sessions } = t.app.gatehouse.services;
        const granted = await sessions.loginWithPassword(
          'alice',
          PASSWORD,
          { scope: 'profile:read' },
          NO_REQUEST,
        );
        await assert.rejects(
          sessions.refresh(granted.tokens.refreshToken, 'profile:read profile:write', NO_REQUEST),
          (error: unknown) => error instanceof InvalidScopeError && error.code === 'INVALID_SCOPE',
        );
        const widened = await tokenGrant(t, {
          grant_type: 'refresh_token',
          refresh_token: granted.tokens.refreshToken,
          scope: 'profile:read profile:write',
        });
        assert.equal(widened.statusCode, 400);
        assert.equal(widened.json().error, 'invalid_scope');
        const narrowed = await sessions.refresh(granted.tokens.refreshToken, undefined, NO_REQUEST);
        assert.equal(narrowed.scope, 'profile:read');
      } finally {
        await t.close();
      }
    });

    test('changing your name takes no admins lock; changing roles or disabling does', async () => {
      const t = await createTestApp({ databaseUrl: database.url });
      try {
        const alice = await registerUser(t.app, 'alice');
        const access = await tokenOf(t, { username: 'alice', password: PASSWORD });
        const locks: string[] = [];
        const { store } = t.gatehouse;
        const exclusive = store.exclusiveTransaction;
        store.exclusiveTransaction = (name, work) => {
          locks.push(name);
          return exclusive(name, work);
        };
        const renamed = await renameMe(t, access.access_token);
        assert.equal(renamed.statusCode, 200, renamed.body);
        assert.equal(renamed.json().full_name, 'Alice A.');
        await t.gatehouse.userAdmin.update(operatorActor('test'), alice.id, { fullName: 'Alice B.' });
        assert.deepEqual(locks, []);
        await t.gatehouse.userAdmin.update(operatorActor('test'), alice.id, { roles: ['user'] });
        await t.gatehouse.userAdmin.update(operatorActor('test'), alice.id, { disabled: false });
        assert.deepEqual(locks, ['admins', 'admins']);
      } finally {
        await t.close();
      }
    });
  });
}

describe('the admins lock on PostgreSQL', { skip: TEST_DATABASE_URL === undefined }, () => {
  test('PATCH /users/me changes a name while another process holds the admins lock', async () => {
    // Were it to wait for the lock, the statement timeout (2 s) would end the wait with a 503.
    const t = await createTestApp({ databaseUrl: TEST_DATABASE_URL });
    try {
      await registerUser(t.app, 'alice');
      const access = await tokenOf(t, { username: 'alice', password: PASSWORD });
      await t.gatehouse.store.db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ':admins'))`.execute(trx);
        const renamed = await renameMe(t, access.access_token);
        assert.equal(renamed.statusCode, 200, renamed.body);
      });
    } finally {
      await t.close();
    }
  });
});
