/**
 * The hosted pages over HTTP: strict headers, accessible markup, and the same POST routes serving
 * browsers (303 or the form again) and API clients (the JSON they always had).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { html } from '../../src/http/pages/layout.ts';
import { createTestApp, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import {
  BROWSER_ACCEPT,
  browserFormHeaders,
  cookieOf,
  form,
  signInByForm,
  visibleInputs,
} from './form-client.ts';

const STRICT_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function assertAccessiblePage(page: string, where: string): void {
  // No inline script: only the one first-party passkey script, by URL and integrity hash.
  assert.doesNotMatch(
    page,
    /<script(?![^>]*\ssrc="\/assets\/passkeys\.js\?v=[0-9a-f]+" integrity="sha256-)/i,
    `${where}: no other script`,
  );
  assert.doesNotMatch(page, /<style|\sstyle=/i, `${where}: no inline style`);
  assert.doesNotMatch(page, /\son[a-z]+=/i, `${where}: no inline event handler`);
  assert.match(page, /<html lang="en">/, `${where}: page language`);
  const inputs = visibleInputs(page);
  assert.ok(inputs.length > 0 || !page.includes('<form'), `${where}: has inputs`);
  for (const input of inputs) {
    assert.ok(input.id, `${where}: input ${input.name} has an id`);
    assert.ok(page.includes(`<label for="${input.id}">`), `${where}: input ${input.name} has a label`);
    for (const described of (input['aria-describedby'] ?? '').split(' ').filter(Boolean)) {
      assert.ok(page.includes(`id="${described}"`), `${where}: ${described} exists`);
    }
  }
  const ids = [...page.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, `${where}: ids are unique`);
}

describe('hosted pages', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await registerUser(t.app, 'alice', { full_name: 'Alice <b>Liddell</b>' });
  });
  after(async () => t?.close());

  test('every page answers HTML with the strict CSP, no-store, and no inline script or style', async () => {
    const { cookie } = await signInByForm(t.app, 'alice', PASSWORD);
    const pages = [
      await t.app.inject({ method: 'GET', url: '/login' }),
      await t.app.inject({ method: 'GET', url: '/register' }),
      await t.app.inject({ method: 'GET', url: '/account', headers: { cookie } }),
      await t.app.inject({
        method: 'POST',
        url: '/login',
        headers: browserFormHeaders(),
        payload: form({ username: 'alice', password: 'wrong password' }),
      }),
    ];
    for (const page of pages) {
      const where = `${page.raw.req.method ?? 'GET'} ${page.raw.req.url}`;
      assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8$/, where);
      // One CSP header, the pages' own: the server-wide helmet policy is replaced, not added to.
      // Pages with a passkey button also allow that one script, by its hash, and its calls home.
      const csp = String(page.headers['content-security-policy']);
      if (page.body.includes('/assets/passkeys.js')) {
        assert.match(csp, /; script-src 'sha256-[A-Za-z0-9+/]+=*'; connect-src 'self'$/, where);
        assert.equal(csp.slice(0, STRICT_CSP.length), STRICT_CSP, where);
      } else assert.equal(csp, STRICT_CSP, where);
      assert.equal(page.headers['cache-control'], 'no-store', where);
      assert.equal(page.headers['x-frame-options'], 'DENY', where);
      assert.equal(page.headers['referrer-policy'], 'same-origin', where);
      assertAccessiblePage(page.body, where);
    }
  });

  test('the stylesheet is one same-origin file, cached for a year at its versioned URL', async () => {
    const login = await t.app.inject({ method: 'GET', url: '/login' });
    const href = /<link rel="stylesheet" href="([^"]+)">/.exec(login.body)?.[1] ?? '';
    assert.match(href, /^\/assets\/gatehouse\.css\?v=[0-9a-f]{12}$/);
    const css = await t.app.inject({ method: 'GET', url: href });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers['content-type']), /^text\/css/);
    assert.equal(css.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(css.body, /\.error-summary/);
    const unversioned = await t.app.inject({ method: 'GET', url: '/assets/gatehouse.css' });
    assert.equal(unversioned.headers['cache-control'], 'public, max-age=300');
  });

  test('a browser signing in gets 303 to /account with the session cookie, and sees its account', async () => {
    const login = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: PASSWORD }),
    });
    assert.equal(login.statusCode, 303);
    assert.equal(login.headers.location, '/account');
    assert.equal(login.body, '');
    const account = await t.app.inject({
      method: 'GET',
      url: '/account',
      headers: { cookie: cookieOf(login) },
    });
    assert.equal(account.statusCode, 200);
    assert.match(account.body, /<dd>alice@example\.com /);
    assert.match(account.body, /<dd>user<\/dd>/);
    // The full name is text, never markup.
    assert.match(account.body, /Alice &lt;b&gt;Liddell&lt;\/b&gt;/);
  });

  test('API clients posting the same routes keep their JSON answers, whatever the body type', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html;q=0.9']) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (accept) headers.accept = accept;
      const ok = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers,
        payload: form({ username: 'alice', password: PASSWORD }),
      });
      assert.equal(ok.statusCode, 200, String(accept));
      assert.equal(ok.json().username, 'alice');
      assert.equal(typeof ok.json().csrf_token, 'string');
      const bad = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers,
        payload: form({ username: 'alice', password: 'nope nope nope' }),
      });
      assert.equal(bad.statusCode, 401);
      assert.deepEqual(bad.json(), { detail: 'Incorrect username or password' });
    }
    const taken = await t.app.inject({
      method: 'POST',
      url: '/register',
      payload: { username: 'alice', email: 'other@example.com', password: PASSWORD },
    });
    assert.equal(taken.statusCode, 400);
    assert.deepEqual(taken.json(), { detail: 'Username already registered' });
    const extra = await t.app.inject({
      method: 'POST',
      url: '/register',
      payload: { username: 'zed', email: 'zed@example.com', password: PASSWORD, csrf_token: 'x' },
    });
    assert.equal(
      extra.statusCode,
      422,
      'JSON bodies stay strict: page fields are only taken from form posts',
    );
  });

  test('a failed registration shows the error on its field, a focused summary first, and keeps what was typed', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/register',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', email: 'new@example.com', full_name: '', password: PASSWORD }),
    });
    assert.equal(response.statusCode, 400);
    const page = response.body;
    const summary = page.indexOf('class="error-summary"');
    assert.ok(summary > 0 && summary < page.indexOf('<form'), 'the summary comes before the form');
    assert.match(page, /<div class="error-summary"[^>]*role="alert"[^>]*tabindex="-1" autofocus>/);
    assert.match(page, /<a href="#username">Username: Username already registered<\/a>/);
    const username = visibleInputs(page).find((input) => input.name === 'username');
    assert.equal(username?.['aria-invalid'], 'true');
    assert.match(username?.['aria-describedby'] ?? '', /\busername-error\b/);
    assert.match(page, /<p class="error-message" id="username-error">.*Username already registered<\/p>/);
    assert.equal(visibleInputs(page).find((input) => input.name === 'email')?.value, 'new@example.com');
    assert.equal(visibleInputs(page).find((input) => input.name === 'password')?.value, undefined);
    assert.doesNotMatch(page, new RegExp(PASSWORD));
  });

  test('empty required fields are reported on each field with 422; a too-short password on the password', async () => {
    const empty = await t.app.inject({
      method: 'POST',
      url: '/register',
      headers: browserFormHeaders(),
      payload: form({ username: '', email: '', full_name: '', password: '' }),
    });
    assert.equal(empty.statusCode, 422);
    for (const name of ['username', 'email', 'password']) {
      assert.match(
        empty.body,
        new RegExp(`id="${name}-error"><span class="visually-hidden">Error: </span>This field is required`),
      );
    }
    assert.doesNotMatch(empty.body, /id="full-name-error"/);
    const short = await t.app.inject({
      method: 'POST',
      url: '/register',
      headers: browserFormHeaders(),
      payload: form({ username: 'bob', email: 'bob@example.com', password: 'short' }),
    });
    assert.equal(short.statusCode, 422);
    assert.match(short.body, /id="password-error"/);
    assert.match(
      visibleInputs(short.body).find((i) => i.name === 'password')?.['aria-invalid'] ?? '',
      /true/,
    );
  });

  test('a browser registering gets 303 to the sign-in page, which says the account is ready', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/register',
      headers: browserFormHeaders(),
      payload: form({
        username: 'carol',
        email: 'carol@example.com',
        full_name: '',
        password: PASSWORD,
        return_to: '/docs',
      }),
    });
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/login?notice=registered&return_to=%2Fdocs');
    const login = await t.app.inject({ method: 'GET', url: response.headers.location });
    assert.match(login.body, /role="status">Your account is ready/);
    assert.match(login.body, /<input type="hidden" name="return_to" value="\/docs">/);
    const me = await signInByForm(t.app, 'carol', PASSWORD);
    assert.doesNotMatch(me.accountPage, /<dt>Name<\/dt>/, 'an empty optional field is stored as absent');
  });

  test('/account without a session sends the browser to sign in and come back', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/account' });
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/login?return_to=%2Faccount');
  });

  test('changing the password by form: 303 back with a notice, other sessions signed out; a wrong current password is shown on its field', async () => {
    await registerUser(t.app, 'dave');
    const other = await signInByForm(t.app, 'dave', PASSWORD);
    const { cookie, csrfToken } = await signInByForm(t.app, 'dave', PASSWORD);
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: browserFormHeaders({ cookie }),
      payload: form({
        csrf_token: csrfToken,
        current_password: 'not it at all',
        new_password: 'a new long passphrase',
      }),
    });
    assert.equal(wrong.statusCode, 400);
    assert.match(
      wrong.body,
      /<a href="#password-current-password">Current password: Incorrect password<\/a>/,
    );
    assert.match(wrong.body, /id="password-current-password-error"/);
    const weak = await t.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: browserFormHeaders({ cookie }),
      payload: form({ csrf_token: csrfToken, current_password: PASSWORD, new_password: 'short' }),
    });
    assert.equal(weak.statusCode, 422);
    assert.match(weak.body, /<a href="#password-new-password">New password: Password must be/);
    assert.match(weak.body, /id="password-new-password-error"/);
    const changed = await t.app.inject({
      method: 'POST',
      url: '/users/me/password',
      headers: browserFormHeaders({ cookie }),
      payload: form({
        csrf_token: csrfToken,
        current_password: PASSWORD,
        new_password: 'a new long passphrase',
      }),
    });
    assert.equal(changed.statusCode, 303);
    assert.equal(changed.headers.location, '/account?notice=password-changed');
    const after = await t.app.inject({ method: 'GET', url: changed.headers.location, headers: { cookie } });
    assert.match(after.body, /Your password has been changed/);
    const elsewhere = await t.app.inject({
      method: 'GET',
      url: '/account',
      headers: { cookie: other.cookie },
    });
    assert.equal(elsewhere.statusCode, 303, 'the other session was signed out');
  });

  test('revoking a session, signing out, and signing out everywhere by form', async () => {
    await registerUser(t.app, 'erin');
    const phone = await signInByForm(t.app, 'erin', PASSWORD);
    const laptop = await signInByForm(t.app, 'erin', PASSWORD);
    const tablet = await signInByForm(t.app, 'erin', PASSWORD);
    const phoneSessionId = (
      await t.app.inject({ method: 'GET', url: '/session', headers: { cookie: phone.cookie } })
    ).json().session_id;
    assert.match(laptop.accountPage, new RegExp(`action="/account/sessions/${phoneSessionId}/revoke"`));
    const revoke = await t.app.inject({
      method: 'POST',
      url: `/account/sessions/${phoneSessionId}/revoke`,
      headers: browserFormHeaders({ cookie: laptop.cookie }),
      payload: form({ csrf_token: laptop.csrfToken }),
    });
    assert.equal(revoke.statusCode, 303);
    assert.equal(revoke.headers.location, '/account?notice=session-revoked');
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie: phone.cookie } })).statusCode,
      303,
    );

    const logout = await t.app.inject({
      method: 'POST',
      url: '/logout',
      headers: browserFormHeaders({ cookie: tablet.cookie }),
      payload: form({ csrf_token: tablet.csrfToken }),
    });
    assert.equal(logout.statusCode, 303);
    assert.equal(logout.headers.location, '/login?notice=signed-out');
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie: tablet.cookie } })).statusCode,
      303,
    );

    const second = await signInByForm(t.app, 'erin', PASSWORD);
    const everywhere = await t.app.inject({
      method: 'POST',
      url: '/account/logout-everywhere',
      headers: browserFormHeaders({ cookie: laptop.cookie }),
      payload: form({ csrf_token: laptop.csrfToken }),
    });
    assert.equal(everywhere.statusCode, 303);
    assert.equal(everywhere.headers.location, '/login?notice=signed-out-everywhere');
    assert.match(String(everywhere.headers['set-cookie']), /Max-Age=0|Expires=Thu, 01 Jan 1970/);
    for (const cookie of [laptop.cookie, second.cookie]) {
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie } })).statusCode,
        303,
      );
    }
  });

  test("another user's session id cannot be revoked from the account page", async () => {
    await registerUser(t.app, 'frank');
    await registerUser(t.app, 'grace');
    const frank = await signInByForm(t.app, 'frank', PASSWORD);
    const grace = await signInByForm(t.app, 'grace', PASSWORD);
    const graceSession = (
      await t.app.inject({ method: 'GET', url: '/session', headers: { cookie: grace.cookie } })
    ).json().session_id;
    const response = await t.app.inject({
      method: 'POST',
      url: `/account/sessions/${graceSession}/revoke`,
      headers: browserFormHeaders({ cookie: frank.cookie }),
      payload: form({ csrf_token: frank.csrfToken }),
    });
    assert.equal(response.statusCode, 404);
    assert.match(response.body, /There is a problem/);
    assert.equal(
      (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie: grace.cookie } })).statusCode,
      200,
    );
  });

  test('the html template escapes every interpolation unless it is already markup', () => {
    const name = `"><script>alert(1)</script>'`;
    assert.equal(
      html`<p title="${name}">${name}${html`<b>ok</b>`}${['<i>', html`<i>`]}</p>`.value,
      '<p title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#39;<b>ok</b>&lt;i&gt;<i></p>',
    );
  });
});

describe('hosted pages settings', () => {
  test('GATEHOUSE_APP_NAME re-brands every title and header, as text', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_APP_NAME: 'Acme <Portal>' } });
    try {
      for (const url of ['/login', '/register']) {
        const page = (await t.app.inject({ method: 'GET', url })).body;
        assert.match(page, /<title>[^<]+ · Acme &lt;Portal&gt;<\/title>/);
        assert.match(page, /class="brand" href="\/account">Acme &lt;Portal&gt;</);
      }
    } finally {
      await t.close();
    }
  });

  test('GATEHOUSE_PAGES=off serves no pages, and POST /login answers JSON even to a browser', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_PAGES: 'off' } });
    try {
      await registerUser(t.app, 'alice');
      for (const url of ['/login', '/register', '/account', '/assets/gatehouse.css']) {
        assert.equal(
          (await t.app.inject({ method: 'GET', url, headers: { accept: BROWSER_ACCEPT } })).statusCode,
          404,
          url,
        );
      }
      const login = await t.app.inject({
        method: 'POST',
        url: '/login',
        headers: browserFormHeaders(),
        payload: form({ username: 'alice', password: PASSWORD }),
      });
      assert.equal(login.statusCode, 200);
      assert.equal(login.json().username, 'alice');
    } finally {
      await t.close();
    }
  });

  test('a throttled sign-in is the form again with 429, Retry-After and the wait in words', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_LOGIN_MAX_FAILURES: '2' } });
    try {
      await registerUser(t.app, 'alice');
      let last = await t.app.inject({ method: 'GET', url: '/login' });
      for (let i = 0; i < 4 && last.statusCode !== 429; i++) {
        last = await t.app.inject({
          method: 'POST',
          url: '/login',
          headers: browserFormHeaders(),
          payload: form({ username: 'alice', password: 'not the password' }),
        });
      }
      assert.equal(last.statusCode, 429);
      assert.match(String(last.headers['retry-after']), /^\d+$/);
      assert.match(last.body, /Too many attempts\. Try again in \d+ seconds\./);
      assert.equal(last.headers['content-security-policy'], STRICT_CSP);
    } finally {
      await t.close();
    }
  });

  test('registration closed: the page says so with 403 and offers no form', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_REGISTRATION: 'closed' } });
    try {
      const page = await t.app.inject({ method: 'GET', url: '/register' });
      assert.equal(page.statusCode, 403);
      assert.match(page.body, /Registration is closed/);
      assert.doesNotMatch(page.body, /<form/);
      assert.doesNotMatch((await t.app.inject({ method: 'GET', url: '/login' })).body, /href="\/register/);
    } finally {
      await t.close();
    }
  });
});
