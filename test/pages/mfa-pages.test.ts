/**
 * Second factors on the hosted pages without JavaScript: the second sign-in step after the
 * password, setting up an authenticator app from /account (QR code, key, recovery codes shown
 * once), and the account page's step-up asking for the app's code once the account has one; a
 * magic link goes on to the same second step.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { ENCRYPTION_KEY, enrolTotp, passwordTokens, STEP_MS } from '../factors/support.ts';
import { storeEmailToken } from '../support/email-token.ts';
import { createTestApp, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { browserFormHeaders, cookieOf, form, signInByForm, visibleInputs } from './form-client.ts';

describe('second factors on the hosted pages', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ env: { GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY } });
    await registerUser(t.app, 'alice');
  });
  after(async () => t?.close());

  test('set up an app on /account, then sign in with the password and its code; a stale session confirms with both', async () => {
    const { cookie, csrfToken, accountPage } = await signInByForm(t.app, 'alice', PASSWORD);
    assert.match(accountPage, /<h2 id="mfa-title">Two-factor authentication<\/h2>/);
    const post = (url: string, fields: Record<string, string>, session = cookie) =>
      t.app.inject({
        method: 'POST',
        url,
        headers: browserFormHeaders({ cookie: session }),
        payload: form(fields),
      });

    const setup = await post('/account/factors/totp', { csrf_token: csrfToken });
    assert.equal(setup.statusCode, 200, setup.body);
    assert.match(setup.body, /<svg/);
    const secret = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.body)?.[1]?.replace(/ /g, '') ?? '';
    const action = /action="(\/account\/factors\/totp\/[^"]+\/confirm)"/.exec(setup.body)?.[1] ?? '';
    const wrong = await post(action, {
      csrf_token: csrfToken,
      code: '000000' === totpCode(secret, t.clock.now()) ? '111111' : '000000',
    });
    assert.equal(wrong.statusCode, 400);
    const confirmed = await post(action, { csrf_token: csrfToken, code: totpCode(secret, t.clock.now()) });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    assert.equal([...confirmed.body.matchAll(/<li><code>/g)].length, 10, 'ten recovery codes, shown once');
    t.clock.advance(STEP_MS);

    const first = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: PASSWORD }),
    });
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.headers['set-cookie'], undefined, 'no session after the password alone');
    const mfaToken = /name="mfa_token" value="([^"]+)"/.exec(first.body)?.[1] ?? '';
    assert.ok(visibleInputs(first.body).some((input) => input.autocomplete === 'one-time-code'));
    const wrongCode = await t.app.inject({
      method: 'POST',
      url: '/login/mfa',
      headers: browserFormHeaders(),
      payload: form({ mfa_token: mfaToken, otp: '12345x' }),
    });
    assert.equal(wrongCode.statusCode, 400);
    assert.match(wrongCode.body, /name="mfa_token"/, 'the second step again, while its token lives');
    const second = await t.app.inject({
      method: 'POST',
      url: '/login/mfa',
      headers: browserFormHeaders(),
      payload: form({ mfa_token: mfaToken, otp: totpCode(secret, t.clock.now()) }),
    });
    assert.equal(second.statusCode, 303, second.body);
    assert.equal(second.headers.location, '/account');
    const session = cookieOf(second);

    t.clock.advance(11 * 60_000);
    const stale = (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie: session } })).body;
    assert.ok(
      visibleInputs(stale).some((input) => input.id === 'reauth-otp'),
      'asks for the code too',
    );
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(stale)?.[1] ?? '';
    const reauth = await post(
      '/reauthenticate',
      { csrf_token: csrf, username: 'alice', password: PASSWORD, otp: totpCode(secret, t.clock.now()) },
      session,
    );
    assert.equal(reauth.statusCode, 303, reauth.body);
    const changed = await post(
      '/account/email',
      { csrf_token: csrf, email: 'alice.new@example.com' },
      session,
    );
    assert.equal(changed.statusCode, 303, changed.body);
  });

  test('a magic link into an account with an app goes on to the second step, which continues to return_to', async () => {
    const { id } = await registerUser(t.app, 'dora');
    const { secret } = await enrolTotp(t, (await passwordTokens(t.app, 'dora')).access_token);
    const token = await storeEmailToken(t, 'magic', { id, email: 'dora@example.com' });
    const post = (url: string, fields: Record<string, string>) =>
      t.app.inject({ method: 'POST', url, headers: browserFormHeaders(), payload: form(fields) });
    const first = await post('/magic-link/sign-in', { token, return_to: '/users/me' });
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.headers['set-cookie'], undefined, 'no session after the link alone');
    const mfaToken = /name="mfa_token" value="([^"]+)"/.exec(first.body)?.[1] ?? '';
    const second = await post('/login/mfa', {
      mfa_token: mfaToken,
      return_to: '/users/me',
      otp: totpCode(secret, t.clock.now()),
    });
    assert.equal(second.statusCode, 303, second.body);
    assert.equal(second.headers.location, '/users/me');
    const me = await t.app.inject({ method: 'GET', url: '/users/me', headers: { cookie: cookieOf(second) } });
    assert.equal(me.json().username, 'dora');
  });
});
