/**
 * Secrets never reach the logs: passwords, access and refresh tokens, Basic credentials, session
 * cookies and CSRF tokens, on success and on every kind of refusal.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { REDACT_PATHS } from '../../src/server.ts';
import { createTestApp, DATABASES, registerUser, type TestApp } from '../support/gatehouse.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const secret = (name: string) => `${name}-${randomBytes(12).toString('hex')}`;
const basic = (username: string, password: string) =>
  Buffer.from(`${username}:${password}`).toString('base64');

interface LogLine {
  msg?: string;
  [key: string]: unknown;
}
const parseLogs = (text: string): LogLine[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);

for (const database of DATABASES) {
  describe(`logs on ${database.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
    });
    after(() => t.close());

    test('register, logins, bearer, Basic, cookie and refused-token requests leave no secret in the logs', async () => {
      const secrets = new Map<string, string>();
      const keep = (name: string, value: string) => {
        assert.ok(value.length >= 16, `${name} is too short to search for`);
        secrets.set(name, value);
        return value;
      };
      const alicePassword = keep('alice password', secret('pw'));
      const duplicatePassword = keep('duplicate registration password', secret('pw'));
      const wrongPassword = keep('wrong password', secret('pw'));
      const newPassword = keep('new password', secret('pw'));
      const inject = t.app.inject.bind(t.app);

      await registerUser(t.app, 'alice', { password: alicePassword });
      const duplicate = await inject({
        method: 'POST',
        url: '/register',
        payload: { username: 'alice', email: 'other@example.com', password: duplicatePassword },
      });
      assert.equal(duplicate.statusCode, 400);

      const granted = await inject({
        method: 'POST',
        url: '/token',
        headers: FORM,
        payload: new URLSearchParams({ username: 'alice', password: alicePassword }).toString(),
      });
      assert.equal(granted.statusCode, 200);
      const { access_token: accessToken, refresh_token: refreshToken } = granted.json();
      keep('access token', accessToken);
      keep('access token signature', accessToken.split('.')[2]);
      keep('refresh token', refreshToken);
      for (const username of ['alice', 'nobody']) {
        const refused = await inject({
          method: 'POST',
          url: '/token',
          headers: FORM,
          payload: new URLSearchParams({ username, password: wrongPassword }).toString(),
        });
        assert.equal(refused.statusCode, 401, username);
      }
      const wrongMedia = await inject({
        method: 'POST',
        url: '/token',
        payload: { username: 'alice', password: alicePassword },
      });
      assert.equal(wrongMedia.statusCode, 415);

      const refreshed = await inject({
        method: 'POST',
        url: '/token',
        headers: FORM,
        payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
      });
      assert.equal(refreshed.statusCode, 200);
      const refreshedAccess = keep('refreshed access token', refreshed.json().access_token);
      keep('second refresh token', refreshed.json().refresh_token);
      const unknownRefresh = await inject({
        method: 'POST',
        url: '/token',
        headers: FORM,
        payload: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: keep('unknown refresh token', secret('rt')),
        }).toString(),
      });
      assert.equal(unknownRefresh.statusCode, 400);

      const me = await inject({
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${accessToken}` },
      });
      assert.equal(me.statusCode, 200);

      const basicRight = keep('Basic credentials', basic('alice', alicePassword));
      const basicWrong = keep('wrong Basic credentials', basic('alice', wrongPassword));
      const basicOk = await inject({
        method: 'GET',
        url: '/protected/basic',
        headers: { authorization: `Basic ${basicRight}` },
      });
      assert.equal(basicOk.statusCode, 200);
      const basicRefused = await inject({
        method: 'GET',
        url: '/protected/basic',
        headers: { authorization: `Basic ${basicWrong}` },
      });
      assert.equal(basicRefused.statusCode, 401);

      const cookieLogin = await inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'alice', password: alicePassword },
      });
      assert.equal(cookieLogin.statusCode, 200);
      const sessionCookie = cookieLogin.cookies[0];
      assert.ok(sessionCookie);
      keep('session cookie', sessionCookie.value);
      keep('csrf token', cookieLogin.json().csrf_token);
      const wrongCookieLogin = await inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'alice', password: wrongPassword },
      });
      assert.equal(wrongCookieLogin.statusCode, 401);
      const cookieHeader = `${sessionCookie.name}=${sessionCookie.value}`;
      const byCookie = await inject({ method: 'GET', url: '/session', headers: { cookie: cookieHeader } });
      assert.equal(byCookie.statusCode, 200);
      const junkCookie = keep('junk cookie', secret('cookie'));
      const byJunkCookie = await inject({
        method: 'GET',
        url: '/users/me',
        headers: { cookie: `${sessionCookie.name}=${junkCookie}; theme=dark` },
      });
      assert.equal(byJunkCookie.statusCode, 401);
      const csrfRefused = await inject({
        method: 'POST',
        url: '/logout',
        headers: { cookie: cookieHeader, 'x-csrf-token': keep('wrong csrf token', secret('csrf')) },
      });
      assert.equal(csrfRefused.statusCode, 403);

      const [header, payload, signature] = accessToken.split('.');
      const forged = keep('forged token', `${header}.${payload}.${signature.slice(0, -6)}AAAAAA`);
      for (const token of [
        forged,
        refreshToken,
        `${header}.${payload}`,
        `${payload}.${header}.${signature}`,
      ]) {
        const refused = await inject({
          method: 'GET',
          url: '/users/me',
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(refused.statusCode, 401, token);
      }

      const changed = await inject({
        method: 'POST',
        url: '/users/me/password',
        headers: { authorization: `Bearer ${refreshedAccess}` },
        payload: { current_password: alicePassword, new_password: newPassword },
      });
      assert.equal(changed.statusCode, 204);
      const wrongCurrent = await inject({
        method: 'POST',
        url: '/users/me/password',
        headers: { authorization: `Bearer ${refreshedAccess}` },
        payload: { current_password: wrongPassword, new_password: newPassword },
      });
      assert.equal(wrongCurrent.statusCode, 400);

      t.clock.advance(24 * 60 * 60 * 1000);
      const expired = await inject({
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${refreshedAccess}` },
      });
      assert.equal(expired.statusCode, 401);

      const logs = t.logs();
      const lines = parseLogs(logs);
      // Not vacuous: every request and every refused token was logged.
      assert.ok(lines.filter((line) => line.msg === 'incoming request').length >= 20, logs.slice(0, 500));
      assert.ok(lines.filter((line) => line.msg === 'bearer token refused').length >= 5);
      const leaked = [...secrets].filter(([, value]) => logs.includes(value)).map(([name]) => name);
      assert.deepEqual(leaked, [], 'secrets found in the logs');
      assert.doesNotMatch(logs, /\$argon2|\$2[aby]\$/, 'a password hash is in the logs');
    });

    test('redaction covers authorization and cookie headers whatever a request serializer logs', () => {
      assert.ok(REDACT_PATHS.includes('req.headers.authorization'));
      assert.ok(REDACT_PATHS.includes('req.headers.cookie'));
      const bearer = secret('bearer');
      const cookie = secret('cookie');
      const req = {
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${bearer}`, cookie: `s=${cookie}` },
      };

      t.app.log.info({ req }, 'logged through the default serializer');
      // A serializer that keeps headers, as a host app might add: redaction must still apply.
      t.app.log
        .child({}, { serializers: { req: (value: unknown) => value } })
        .info({ req }, 'logged with headers');
      t.app.log.info({ password: bearer, access_token: bearer, token: cookie }, 'logged credentials');

      const logs = t.logs();
      assert.ok(!logs.includes(bearer), 'the bearer token was logged');
      assert.ok(!logs.includes(cookie), 'the cookie was logged');
      const lines = parseLogs(logs);
      const withHeaders = lines.find((line) => line.msg === 'logged with headers');
      assert.deepEqual((withHeaders?.req as { headers?: unknown })?.headers, {
        authorization: '[redacted]',
        cookie: '[redacted]',
      });
      const credentials = lines.find((line) => line.msg === 'logged credentials');
      assert.equal(credentials?.password, '[redacted]');
      assert.equal(credentials?.access_token, '[redacted]');
      assert.equal(credentials?.token, '[redacted]');
    });
  });
}
