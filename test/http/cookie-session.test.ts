import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

const COOKIE = '__Host-gatehouse_session';

function sessionCookieOf(response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((c) => c.name === COOKIE);
  assert.ok(cookie, `no ${COOKIE} cookie in ${JSON.stringify(response.headers['set-cookie'])}`);
  return cookie.value;
}

for (const database of DATABASES) {
  describe(`cookie sessions on ${database.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      await registerUser(t.app, 'alice', { full_name: 'Alice' });
    });
    after(() => t.close());

    const cookieLogin = async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'alice', password: PASSWORD },
      });
      assert.equal(response.statusCode, 200, response.body);
      return { cookie: sessionCookieOf(response), csrf: response.json().csrf_token as string, response };
    };

    test('POST /login sets a __Host- session cookie (HttpOnly, Secure, SameSite=Lax, Path=/) and returns the user with a CSRF token', async () => {
      const { response, csrf } = await cookieLogin();
      const header = String(response.headers['set-cookie']);
      assert.match(header, /^__Host-gatehouse_session=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43};/);
      assert.match(header, /HttpOnly/);
      assert.match(header, /Secure/);
      assert.match(header, /SameSite=Lax/);
      assert.match(header, /Path=\//);
      assert.doesNotMatch(header, /Domain=/);
      assert.equal(response.json().username, 'alice');
      assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(response.headers['cache-control'], 'no-store');
    });

    test('POST /login also takes a form, and a wrong password is 401 without a cookie', async () => {
      const form = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username: 'alice', password: PASSWORD }).toString(),
      });
      assert.equal(form.statusCode, 200);
      const wrong = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'alice', password: 'nope nope nope' },
      });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.headers['set-cookie'], undefined);
    });

    test('the cookie authenticates every bearer route, and GET /session returns the same CSRF token', async () => {
      const { cookie, csrf } = await cookieLogin();
      const meResponse = await t.app.inject({
        method: 'GET',
        url: '/users/me',
        cookies: { [COOKIE]: cookie },
      });
      assert.equal(meResponse.statusCode, 200);
      assert.equal(meResponse.json().username, 'alice');
      const session = await t.app.inject({ method: 'GET', url: '/session', cookies: { [COOKIE]: cookie } });
      assert.equal(session.json().csrf_token, csrf);
      const protectedRoute = await t.app.inject({
        method: 'GET',
        url: '/protected',
        cookies: { [COOKIE]: cookie },
      });
      assert.equal(protectedRoute.statusCode, 200);
    });

    test('a forged or unknown cookie is not a session', async () => {
      const { cookie } = await cookieLogin();
      const [id] = cookie.split('.');
      for (const value of [`${id}.${'A'.repeat(43)}`, 'garbage', `${'B'.repeat(22)}.${'C'.repeat(43)}`]) {
        const response = await t.app.inject({
          method: 'GET',
          url: '/users/me',
          cookies: { [COOKIE]: value },
        });
        assert.equal(response.statusCode, 401, value);
      }
    });

    test('a state-changing request by cookie without the CSRF header is refused with 403 and changes nothing', async () => {
      const { cookie } = await cookieLogin();
      const response = await t.app.inject({ method: 'POST', url: '/logout', cookies: { [COOKIE]: cookie } });
      assert.equal(response.statusCode, 403);
      assert.deepEqual(response.json(), { detail: 'CSRF check failed' });
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', cookies: { [COOKIE]: cookie } })).statusCode,
        200,
      );
    });

    test("a wrong CSRF token, or another session's, is refused", async () => {
      const one = await cookieLogin();
      const two = await cookieLogin();
      for (const token of ['x'.repeat(43), two.csrf]) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/logout',
          cookies: { [COOKIE]: one.cookie },
          headers: { 'x-csrf-token': token },
        });
        assert.equal(response.statusCode, 403);
      }
    });

    test('a cross-site request is refused even with the right CSRF token (Origin and Sec-Fetch-Site)', async () => {
      const { cookie, csrf } = await cookieLogin();
      for (const headers of [
        { origin: 'https://evil.example', 'x-csrf-token': csrf },
        { 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf },
        { 'sec-fetch-site': 'same-site', 'x-csrf-token': csrf },
      ]) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/logout',
          cookies: { [COOKIE]: cookie },
          headers,
        });
        assert.equal(response.statusCode, 403, JSON.stringify(headers));
        assert.deepEqual(response.json(), { detail: 'CSRF check failed' });
      }
    });

    test('a cross-site form login is refused (login CSRF)', async () => {
      // JSON from another origin is allowed: a browser sends it only after a CORS preflight.
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username: 'alice', password: PASSWORD }).toString(),
      });
      assert.equal(response.statusCode, 403);
      assert.equal(response.headers['set-cookie'], undefined);
    });

    test('with the CSRF token from the same origin, POST /logout ends the cookie session and clears the cookie', async () => {
      const { cookie, csrf } = await cookieLogin();
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout',
        cookies: { [COOKIE]: cookie },
        headers: { 'x-csrf-token': csrf, origin: 'http://gatehouse.test', 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(response.statusCode, 204);
      assert.match(
        String(response.headers['set-cookie']),
        /__Host-gatehouse_session=;.*Expires=Thu, 01 Jan 1970/,
      );
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', cookies: { [COOKIE]: cookie } })).statusCode,
        401,
      );
    });

    test('bearer-authenticated requests need no CSRF token', async () => {
      const token = await login(t.app, 'alice');
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.statusCode, 204);
    });

    test('logging out everywhere with a bearer token also ends cookie sessions', async () => {
      const { cookie } = await cookieLogin();
      const token = await login(t.app, 'alice');
      const response = await t.app.inject({
        method: 'DELETE',
        url: '/sessions',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.statusCode, 204);
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', cookies: { [COOKIE]: cookie } })).statusCode,
        401,
      );
    });

    test('a cookie session ends after the idle timeout', async () => {
      const { cookie } = await cookieLogin();
      t.clock.advance(7 * 86_400_000 + 1000);
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', cookies: { [COOKIE]: cookie } })).statusCode,
        401,
      );
    });
  });
}

describe('cookie on a plain-http localhost issuer', () => {
  test('development on http://localhost uses an unprefixed cookie without Secure, which browsers accept', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_ISSUER: 'http://localhost:8000' } });
    try {
      await registerUser(t.app, 'alice');
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'alice', password: PASSWORD },
      });
      const header = String(response.headers['set-cookie']);
      assert.match(header, /^gatehouse_session=/);
      assert.doesNotMatch(header, /Secure/);
      assert.match(header, /HttpOnly/);
    } finally {
      await t.close();
    }
  });
});
