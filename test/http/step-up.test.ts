/**
 * Step-up for sensitive actions (RFC 9470): access tokens and cookie sessions carry when the user
 * last proved a password; creating an API key and changing the email or password need that within
 * GATEHOUSE_REAUTH_MAX_AGE, and `POST /reauthenticate` renews it. The attacks: a stolen token
 * older than the limit, a token from before `auth_time` existed, a refresh to look fresh, an API key.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { listAuditEvents } from '../../src/store/audit.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

const MINUTE = 60_000;
const COOKIE = '__Host-gatehouse_session';
const NEW_PASSWORD = 'a brand new passphrase';

interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

function tokenRequest(app: FastifyInstance, fields: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });
}

async function passwordLogin(app: FastifyInstance, username: string): Promise<Tokens> {
  const response = await tokenRequest(app, { username, password: PASSWORD });
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}

async function refreshed(app: FastifyInstance, refreshToken: string): Promise<Tokens> {
  const response = await tokenRequest(app, { grant_type: 'refresh_token', refresh_token: refreshToken });
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The sensitive actions, each as a request that succeeds with a recent sign-in. */
const SENSITIVE: readonly { name: string; request: InjectOptions; ok: number }[] = [
  {
    name: 'POST /api-keys',
    request: { method: 'POST', url: '/api-keys', payload: { name: 'ci', scopes: ['profile:read'] } },
    ok: 201,
  },
  {
    name: 'PATCH /users/me with email',
    request: { method: 'PATCH', url: '/users/me', payload: { email: 'elsewhere@example.com' } },
    ok: 200,
  },
  {
    name: 'POST /users/me/password',
    request: {
      method: 'POST',
      url: '/users/me/password',
      payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
    },
    ok: 204,
  },
];

function assertReauthRequired(response: LightMyRequestResponse, maxAgeSeconds = 600): void {
  assert.equal(response.statusCode, 401, response.body);
  assert.equal(
    response.headers['www-authenticate'],
    `Bearer error="insufficient_user_authentication", error_description="Recent sign-in required", max_age=${maxAgeSeconds}`,
  );
  assert.deepEqual(response.json(), { detail: 'Recent sign-in required', code: 'REAUTH_REQUIRED' });
}

for (const database of DATABASES) {
  describe(`step-up authentication on ${database.name}`, () => {
    let t: TestApp;
    let n = 0;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
    });
    after(() => t.close());

    /** A fresh user per test: the password and email actions change it. */
    async function newUser(): Promise<string> {
      const username = `user${++n}`;
      await registerUser(t.app, username);
      return username;
    }

    const events = async (event: string, userId?: string) =>
      (await listAuditEvents(t.gatehouse.store.db, { event, limit: 1000 })).filter(
        (e) => userId === undefined || e.userId === userId,
      );

    test('an access token carries auth_time, the time of the login; a refresh keeps it and does not renew it', async () => {
      const username = await newUser();
      const loginAt = Math.floor(t.clock.now() / 1000);
      const first = await passwordLogin(t.app, username);
      assert.equal(decodeJwt(first.access_token).auth_time, loginAt);
      t.clock.advance(5 * MINUTE);
      const second = await refreshed(t.app, first.refresh_token);
      t.clock.advance(5 * MINUTE);
      const third = await refreshed(t.app, second.refresh_token);
      assert.equal(decodeJwt(third.access_token).auth_time, loginAt);
      assert.ok((decodeJwt(third.access_token).iat ?? 0) > loginAt);
    });

    for (const action of SENSITIVE) {
      test(`${action.name} needs a recent sign-in: a token refreshed 11 minutes after its login is refused with REAUTH_REQUIRED and nothing changes; within 10 minutes it goes through`, async () => {
        const username = await newUser();
        const tokens = await passwordLogin(t.app, username);
        t.clock.advance(11 * MINUTE);
        // The attacker refreshes a stolen session: the new token is valid but not recent.
        const stale = (await refreshed(t.app, tokens.refresh_token)).access_token;
        assertReauthRequired(await t.app.inject({ ...action.request, headers: bearer(stale) }));
        const user = await t.gatehouse.accounts.findByUsername(username);
        assert.equal((await t.gatehouse.apiKeys.list(operatorActor(), user?.id)).length, 0);
        assert.equal((await events('email.change_requested', user?.id)).length, 0);
        assert.equal((await events('password.changed', user?.id)).length, 0);
        assert.equal(
          (await tokenRequest(t.app, { username, password: PASSWORD })).statusCode,
          200,
          'old password',
        );

        const fresh = (await passwordLogin(t.app, username)).access_token;
        t.clock.advance(10 * MINUTE);
        const response = await t.app.inject({ ...action.request, headers: bearer(fresh) });
        assert.equal(response.statusCode, action.ok, response.body);
      });
    }

    test('a token issued without auth_time (before this release) is refused every sensitive action', async () => {
      const username = await newUser();
      const user = await t.gatehouse.accounts.findByUsername(username);
      assert.ok(user);
      const login = await passwordLogin(t.app, username);
      const { sid, scope } = decodeJwt(login.access_token) as { sid: string; scope: string };
      const legacy = t.gatehouse.tokens.issueAccessToken({
        userId: user.id,
        username,
        roles: user.roles,
        scope,
        sessionId: sid,
      });
      assert.equal(legacy.claims.auth_time, undefined);
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', headers: bearer(legacy.token) })).statusCode,
        200,
      );
      for (const action of SENSITIVE) {
        assertReauthRequired(await t.app.inject({ ...action.request, headers: bearer(legacy.token) }));
      }
    });

    test('PATCH /users/me without email (the name only) needs no recent sign-in', async () => {
      const username = await newUser();
      const tokens = await passwordLogin(t.app, username);
      t.clock.advance(30 * MINUTE);
      const stale = (await refreshed(t.app, tokens.refresh_token)).access_token;
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/users/me',
        headers: bearer(stale),
        payload: { full_name: 'Still Me' },
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().full_name, 'Still Me');
    });

    test("an admin changing another user's email needs a recent sign-in; other changes do not", async () => {
      const target = await newUser();
      const adminName = await newUser();
      const admin = await t.gatehouse.accounts.findByUsername(adminName);
      await t.gatehouse.accounts.setRoles(admin?.id ?? '', ['user', 'admin']);
      const victim = await t.gatehouse.accounts.findByUsername(target);
      const tokens = await passwordLogin(t.app, adminName);
      t.clock.advance(11 * MINUTE);
      const stale = (await refreshed(t.app, tokens.refresh_token)).access_token;
      const patch = (payload: Record<string, unknown>, token: string) =>
        t.app.inject({ method: 'PATCH', url: `/users/${victim?.id}`, headers: bearer(token), payload });
      assertReauthRequired(await patch({ email: 'taken-over@example.com', full_name: 'X' }, stale));
      const unchanged = await t.gatehouse.accounts.findUser(victim?.id ?? '');
      assert.equal(unchanged?.email, victim?.email);
      assert.equal(unchanged?.fullName, victim?.fullName, 'nothing of the refused change applied');
      assert.equal((await patch({ full_name: 'Renamed' }, stale)).statusCode, 200);
      const fresh = (await passwordLogin(t.app, adminName)).access_token;
      const moved = await patch({ email: 'moved@example.com' }, fresh);
      assert.equal(moved.statusCode, 200, moved.body);
      assert.equal(moved.json().email, 'moved@example.com');
    });

    test('POST /reauthenticate proves the password: a fresh token with auth_time now, a new refresh token, the session renewed for refreshes, and a user.reauthenticated event', async () => {
      const username = await newUser();
      const login = await passwordLogin(t.app, username);
      t.clock.advance(20 * MINUTE);
      const stale = (await refreshed(t.app, login.refresh_token)).access_token;

      const wrong = await t.app.inject({
        method: 'POST',
        url: '/reauthenticate',
        headers: bearer(stale),
        payload: { password: 'not the password' },
      });
      assert.equal(wrong.statusCode, 400, wrong.body);
      assert.equal(wrong.json().detail, 'Incorrect password');

      const response = await t.app.inject({
        method: 'POST',
        url: '/reauthenticate',
        headers: bearer(stale),
        payload: { password: PASSWORD },
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), [
        'access_token',
        'expires_in',
        'refresh_token',
        'scope',
        'token_type',
      ]);
      assert.equal(body.token_type, 'bearer');
      assert.equal(body.scope, login.scope);
      const claims = decodeJwt(body.access_token);
      assert.equal(claims.auth_time, Math.floor(t.clock.now() / 1000));
      assert.equal(claims.sid, decodeJwt(stale).sid, 'the same session');

      const created = await t.app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: bearer(body.access_token),
        payload: { name: 'after step-up', scopes: [] },
      });
      assert.equal(created.statusCode, 201, created.body);
      // The stale token itself stays stale: its claim is what it is.
      assertReauthRequired(
        await t.app.inject({ ...SENSITIVE[0]?.request, headers: bearer(stale) } as InjectOptions),
      );
      // The session was renewed: a refresh of the old chain now carries the new auth_time.
      t.clock.advance(MINUTE);
      const sibling = await refreshed(t.app, body.refresh_token);
      assert.equal(decodeJwt(sibling.access_token).auth_time, claims.auth_time);

      const user = await t.gatehouse.accounts.findByUsername(username);
      const audited = await events('user.reauthenticated', user?.id);
      assert.equal(audited.length, 1);
      assert.equal(audited[0]?.sessionId, claims.sid);
      assert.equal(audited[0]?.details?.method, 'password');
      const failed = await events('login.failed', user?.id);
      assert.deepEqual(
        failed.map((e) => [e.details?.reason, e.details?.purpose]),
        [['wrong_password', 'reauthenticate']],
      );
    });

    test('a cookie session: a stale one is refused, POST /reauthenticate with the cookie renews the session itself, and the cookie then creates a key', async () => {
      const username = await newUser();
      const loginResponse = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username, password: PASSWORD },
      });
      assert.equal(loginResponse.statusCode, 200, loginResponse.body);
      const cookie = loginResponse.cookies.find((c) => c.name === COOKIE)?.value ?? '';
      const csrf = loginResponse.json().csrf_token as string;
      const withCookie = { cookies: { [COOKIE]: cookie }, headers: { 'x-csrf-token': csrf } };
      const createKey = () =>
        t.app.inject({
          method: 'POST',
          url: '/api-keys',
          ...withCookie,
          payload: { name: 'from the browser', scopes: [] },
        });

      assert.equal((await createKey()).statusCode, 201, 'just signed in');
      t.clock.advance(11 * MINUTE);
      assertReauthRequired(await createKey());
      const reauth = await t.app.inject({
        method: 'POST',
        url: '/reauthenticate',
        ...withCookie,
        payload: { password: PASSWORD },
      });
      assert.equal(reauth.statusCode, 200, reauth.body);
      assert.equal(reauth.json().refresh_token, undefined, 'a cookie session has no refresh tokens');
      assert.equal(decodeJwt(reauth.json().access_token).auth_time, Math.floor(t.clock.now() / 1000));
      assert.equal((await createKey()).statusCode, 201, 'the cookie is recent again');
      t.clock.advance(11 * MINUTE);
      assertReauthRequired(await createKey());
    });

    test('an API key never counts as a recent sign-in: it cannot create keys, change the email or password, or reauthenticate', async () => {
      const username = await newUser();
      const token = (await passwordLogin(t.app, username)).access_token;
      const created = await t.app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: bearer(token),
        payload: { name: 'machine', scopes: ['profile:read', 'profile:write'] },
      });
      assert.equal(created.statusCode, 201, created.body);
      const key = created.json().key as string;
      for (const action of SENSITIVE) {
        assertReauthRequired(await t.app.inject({ ...action.request, headers: { 'x-api-key': key } }));
      }
      const reauth = await t.app.inject({
        method: 'POST',
        url: '/reauthenticate',
        headers: { 'x-api-key': key },
        payload: { password: PASSWORD },
      });
      assert.equal(reauth.statusCode, 401, reauth.body);
      assert.equal((await events('user.reauthenticated')).length > 0, true, 'earlier tests');
      const user = await t.gatehouse.accounts.findByUsername(username);
      assert.equal((await events('user.reauthenticated', user?.id)).length, 0);
    });

    test('POST /reauthenticate without credentials is 401, and with a revoked session 401', async () => {
      const anonymous = await t.app.inject({
        method: 'POST',
        url: '/reauthenticate',
        payload: { password: PASSWORD },
      });
      assert.equal(anonymous.statusCode, 401);
      const username = await newUser();
      const token = (await passwordLogin(t.app, username)).access_token;
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })).statusCode,
        204,
      );
      const revoked = await t.app.inject({
        method: 'POST',
        url: '/reauthenticate',
        headers: bearer(token),
        payload: { password: PASSWORD },
      });
      assert.equal(revoked.statusCode, 401);
    });
  });
}

describe('GATEHOUSE_REAUTH_MAX_AGE', () => {
  test('sets the limit and the max_age of the challenge', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_REAUTH_MAX_AGE: '5m' } });
    try {
      assert.equal(t.config.reauthMaxAgeSeconds, 300);
      await registerUser(t.app, 'alice');
      const tokens = await passwordLogin(t.app, 'alice');
      t.clock.advance(5 * MINUTE);
      const atLimit = (await refreshed(t.app, tokens.refresh_token)).access_token;
      const ok = await t.app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: bearer(atLimit),
        payload: { name: 'at the limit', scopes: [] },
      });
      assert.equal(ok.statusCode, 201, ok.body);
      t.clock.advance(1000);
      assertReauthRequired(
        await t.app.inject({
          method: 'POST',
          url: '/api-keys',
          headers: bearer(atLimit),
          payload: { name: 'past it', scopes: [] },
        }),
        300,
      );
    } finally {
      await t.close();
    }
  });
});
