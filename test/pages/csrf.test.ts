/**
 * CSRF defence of the form posts: before sign-in a cross-site post is refused by Origin and Fetch
 * Metadata; once signed in, the session's token must also come back in the `csrf_token` field.
 * Each refusal is a 403 that changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { browserFormHeaders, form, signInByForm } from './form-client.ts';

const CROSS_SITE = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

for (const database of DATABASES) {
  describe(`form CSRF defence on ${database.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      await registerUser(t.app, 'alice');
    });
    after(async () => t?.close());

    const sessionAlive = async (cookie: string) =>
      (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie } })).statusCode === 200;

    test('a cross-site registration form post is refused 403 and creates no user', async () => {
      const variants: Record<string, string>[] = [
        CROSS_SITE,
        { origin: 'https://evil.example' },
        { 'sec-fetch-site': 'same-site' },
      ];
      for (const headers of variants) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/register',
          headers: browserFormHeaders(headers),
          payload: form({ username: 'mallory', email: 'mallory@example.com', password: PASSWORD }),
        });
        assert.equal(response.statusCode, 403, JSON.stringify(headers));
        assert.match(response.body, /could not be accepted/);
      }
      // A text/plain body, which a cross-site page may also send, is refused as well.
      const text = await t.app.inject({
        method: 'POST',
        url: '/register',
        headers: { ...CROSS_SITE, 'content-type': 'text/plain' },
        payload: JSON.stringify({ username: 'mallory', email: 'mallory@example.com', password: PASSWORD }),
      });
      assert.ok(text.statusCode >= 400 && text.statusCode < 500, String(text.statusCode));
      const created = await registerUser(t.app, 'mallory');
      assert.equal(created.username, 'mallory', 'the name was still free: nothing was created');
    });

    test('a cross-site login form post is refused 403 and sets no cookie (login CSRF)', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers: browserFormHeaders(CROSS_SITE),
        payload: form({ username: 'alice', password: PASSWORD }),
      });
      assert.equal(response.statusCode, 403);
      assert.equal(response.headers['set-cookie'], undefined);
    });

    test('a form post asking for HTML with neither Origin nor Sec-Fetch-Site is refused', async () => {
      const headers = browserFormHeaders();
      delete headers.origin;
      delete headers['sec-fetch-site'];
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers,
        payload: form({ username: 'alice', password: PASSWORD }),
      });
      assert.equal(response.statusCode, 403);
      assert.equal(response.headers['set-cookie'], undefined);
    });

    test('signed-in form posts need the csrf_token field: missing, wrong or cross-site, nothing changes', async () => {
      const victim = await signInByForm(t.app, 'alice', PASSWORD);
      const attempts: { name: string; headers: Record<string, string>; fields: Record<string, string> }[] = [
        { name: 'missing token', headers: {}, fields: {} },
        { name: 'wrong token', headers: {}, fields: { csrf_token: `${victim.csrfToken.slice(0, -2)}AA` } },
        { name: 'empty token', headers: {}, fields: { csrf_token: '' } },
        {
          name: 'cross-site with the right token',
          headers: CROSS_SITE,
          fields: { csrf_token: victim.csrfToken },
        },
      ];
      for (const attempt of attempts) {
        for (const url of ['/account/logout-everywhere', '/logout']) {
          const response = await t.app.inject({
            method: 'POST',
            url,
            headers: browserFormHeaders({ cookie: victim.cookie, ...attempt.headers }),
            payload: form(attempt.fields),
          });
          assert.equal(response.statusCode, 403, `${attempt.name} ${url}`);
          assert.equal(response.headers['set-cookie'], undefined);
          assert.ok(await sessionAlive(victim.cookie), `${attempt.name} ${url}: the session lives`);
        }
        const change = await t.app.inject({
          method: 'POST',
          url: '/users/me/password',
          headers: browserFormHeaders({ cookie: victim.cookie, ...attempt.headers }),
          payload: form({
            ...attempt.fields,
            current_password: PASSWORD,
            new_password: 'attacker chosen phrase',
          }),
        });
        assert.equal(change.statusCode, 403, `${attempt.name} password`);
      }
      // The password is unchanged: the old one still signs in.
      await signInByForm(t.app, 'alice', PASSWORD);
      // And the right token from this site works.
      const ok = await t.app.inject({
        method: 'POST',
        url: '/account/logout-everywhere',
        headers: browserFormHeaders({ cookie: victim.cookie }),
        payload: form({ csrf_token: victim.csrfToken }),
      });
      assert.equal(ok.statusCode, 303);
      assert.equal(await sessionAlive(victim.cookie), false);
    });

    test("one session's token does not pass for another session", async () => {
      const first = await signInByForm(t.app, 'alice', PASSWORD);
      const second = await signInByForm(t.app, 'alice', PASSWORD);
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: browserFormHeaders({ cookie: first.cookie }),
        payload: form({ csrf_token: second.csrfToken }),
      });
      assert.equal(response.statusCode, 403);
      assert.ok(await sessionAlive(first.cookie));
    });

    test('a csrf_token field is no substitute for the header on routes that serve no form', async () => {
      const { cookie, csrfToken } = await signInByForm(t.app, 'alice', PASSWORD);
      const sessionId = (await t.app.inject({ method: 'GET', url: '/session', headers: { cookie } })).json()
        .session_id;
      const viaField = await t.app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: browserFormHeaders({ cookie }),
        payload: form({ csrf_token: csrfToken, name: 'x' }),
      });
      assert.equal(viaField.statusCode, 403);
      const revoke = await t.app.inject({
        method: 'DELETE',
        url: `/sessions/${sessionId}`,
        headers: {
          cookie,
          origin: 'http://localhost:80',
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: form({ csrf_token: csrfToken }),
      });
      assert.equal(revoke.statusCode, 403);
      assert.ok(await sessionAlive(cookie));
      // The header still works as before on the form routes too.
      const viaHeader = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: { cookie, 'x-csrf-token': csrfToken },
      });
      assert.equal(viaHeader.statusCode, 204);
    });
  });
}
