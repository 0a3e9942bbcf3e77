/**
 * The pages of the emailed links over HTTP, with a real SMTP server: a link opened by GET shows a
 * button and spends nothing; the button's post does the work once; a dead link says so; and the
 * request forms (forgot password, magic link, resend verification, change email) answer a
 * browser with pages while the JSON routes stay as they are.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { createTestApp, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { mailTo, startSmtpServer, type TestSmtpServer, tokenFrom } from '../support/smtp.ts';
import { browserFormHeaders, cookieOf, form, signInByForm } from './form-client.ts';

const STRICT_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const DEAD_LINK = /This link has expired or was already used\./;

describe('pages of the emailed links', () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  before(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({
      env: { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_PUBLIC_URL: 'http://app.test' },
    });
  });
  after(async () => {
    await t?.close();
    await smtp?.close();
  });

  async function deliver(): Promise<void> {
    await t.gatehouse.emailFlows.settled();
    await t.gatehouse.mail.runOnce();
  }
  function lastTokenTo(address: string, path: string): string {
    const mails = mailTo(smtp.messages, address);
    const mail = mails[mails.length - 1];
    assert.ok(mail, `a mail to ${address}`);
    return tokenFrom(mail, path);
  }
  const get = (url: string, cookie?: string) =>
    t.app.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });
  const postForm = (url: string, fields: Record<string, string>, extra: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url, headers: browserFormHeaders(extra), payload: form(fields) });
  const verified = async (cookie: string) => /badge-ok">verified</.test((await get('/account', cookie)).body);

  test('a dead or missing token shows "expired" with a way on, and no form, on every link page', async () => {
    for (const path of ['/verify-email', '/reset-password', '/magic-link', '/confirm-email']) {
      for (const url of [`${path}?token=${'A'.repeat(43)}`, `${path}?token=nonsense`, path]) {
        const response = await get(url);
        assert.equal(response.statusCode, 400, url);
        assert.equal(response.headers['content-security-policy'], STRICT_CSP);
        assert.match(response.body, DEAD_LINK, url);
        assert.doesNotMatch(response.body, /<form/, url);
        assert.match(response.body, /<a href="\/(login|account|forgot-password)">/, url);
      }
    }
  });

  test('the verification link: opening it spends nothing; its button verifies once', async () => {
    await postForm('/register', { username: 'vera', email: 'vera@example.com', password: PASSWORD });
    await deliver();
    const token = lastTokenTo('vera@example.com', '/verify-email');
    const { cookie } = await signInByForm(t.app, 'vera', PASSWORD);
    assert.equal(await verified(cookie), false);
    for (let i = 0; i < 2; i++) {
      const page = await get(`/verify-email?token=${token}`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<form method="post" action="\/verify">/);
      assert.match(page.body, new RegExp(`<input type="hidden" name="token" value="${token}">`));
    }
    assert.equal(await verified(cookie), false, 'a GET verifies nothing');
    const done = await postForm('/verify', { token });
    assert.equal(done.statusCode, 303);
    assert.equal(done.headers.location, '/verify-email?status=verified');
    assert.match((await get(done.headers.location)).body, /your email address is verified/);
    assert.equal(await verified(cookie), true);
    assert.match((await get(`/verify-email?token=${token}`)).body, DEAD_LINK);
    const again = await postForm('/verify', { token });
    assert.equal(again.statusCode, 400);
    assert.match(again.body, DEAD_LINK);
  });

  test('forgot password by form: the same answer for any address; the reset page keeps the link through a refused password', async () => {
    await registerUser(t.app, 'rosa');
    const other = await signInByForm(t.app, 'rosa', PASSWORD);
    for (const email of ['rosa@example.com', 'nobody@example.com']) {
      const sent = await postForm('/forgot-password', { email });
      assert.equal(sent.statusCode, 303);
      assert.equal(sent.headers.location, '/forgot-password?notice=sent');
    }
    assert.match((await get('/forgot-password?notice=sent')).body, /If an account has this address/);
    await deliver();
    assert.equal(mailTo(smtp.messages, 'nobody@example.com').length, 0);
    const token = lastTokenTo('rosa@example.com', '/reset-password');
    const page = await get(`/reset-password?token=${token}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<label for="new-password">New password<\/label>/);

    const weak = await postForm('/reset-password', { token, new_password: 'short' });
    assert.equal(weak.statusCode, 422);
    assert.match(weak.body, /id="new-password-error"/);
    assert.match(weak.body, new RegExp(`name="token" value="${token}"`), 'the link still works');

    const reset = await postForm('/reset-password', { token, new_password: 'the new one is longer' });
    assert.equal(reset.statusCode, 303);
    assert.equal(reset.headers.location, '/login?notice=password-reset');
    assert.equal((await get('/account', other.cookie)).statusCode, 303, 'every session ended');
    await signInByForm(t.app, 'rosa', 'the new one is longer');
    assert.match((await get(`/reset-password?token=${token}`)).body, DEAD_LINK);
    const invalid = await postForm('/forgot-password', { email: '' });
    assert.equal(invalid.statusCode, 422);
    assert.match(invalid.body, /id="email-error"/);
  });

  test('magic link: asked for on /login, opened, and the button signs in with a cookie; a cross-site post spends nothing', async () => {
    await registerUser(t.app, 'mags');
    const asked = await postForm('/magic-link', { email: 'mags@example.com' });
    assert.equal(asked.statusCode, 303);
    assert.equal(asked.headers.location, '/login?notice=magic-link-sent');
    await deliver();
    const token = lastTokenTo('mags@example.com', '/magic-link');
    const page = await get(`/magic-link?token=${token}`);
    assert.match(page.body, /<form method="post" action="\/magic-link\/sign-in">/);

    const forged = await postForm(
      '/magic-link/sign-in',
      { token },
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(forged.statusCode, 403);
    assert.equal(forged.headers['set-cookie'], undefined);
    assert.equal(await t.gatehouse.emailFlows.peekToken(token, 'magic'), true, 'the token is still unspent');

    const signIn = await postForm('/magic-link/sign-in', { token, return_to: '//evil.com' });
    assert.equal(signIn.statusCode, 303);
    assert.equal(signIn.headers.location, '/account');
    const account = await get('/account', cookieOf(signIn));
    assert.equal(account.statusCode, 200);
    assert.match(account.body, /Signed in as <strong>mags<\/strong>/);
    const twice = await postForm('/magic-link/sign-in', { token });
    assert.equal(twice.statusCode, 400);
    assert.match(twice.body, DEAD_LINK);
    assert.equal(twice.headers['set-cookie'], undefined);

    const bad = await postForm('/magic-link', { email: 'x' });
    assert.equal(bad.statusCode, 422);
    assert.match(bad.body, /id="magic-email-error"/);
  });

  test('from the account page: resend the verification link, then change the email address and confirm it', async () => {
    await registerUser(t.app, 'eve');
    const { cookie, csrfToken } = await signInByForm(t.app, 'eve', PASSWORD);
    await deliver();
    const before = mailTo(smtp.messages, 'eve@example.com').length;
    const resend = await postForm('/verify/request', { csrf_token: csrfToken }, { cookie });
    assert.equal(resend.statusCode, 303);
    assert.equal(resend.headers.location, '/account?notice=verification-sent');
    await deliver();
    assert.equal(mailTo(smtp.messages, 'eve@example.com').length, before + 1);

    const noToken = await postForm('/account/email', { email: 'eve.new@example.com' }, { cookie });
    assert.equal(noToken.statusCode, 403);
    const taken = await postForm(
      '/account/email',
      { csrf_token: csrfToken, email: 'rosa@example.com' },
      { cookie },
    );
    assert.equal(taken.statusCode, 400);
    assert.match(taken.body, /<a href="#email-email">New email address: Email already registered<\/a>/);
    const change = await postForm(
      '/account/email',
      { csrf_token: csrfToken, email: 'eve.new@example.com' },
      { cookie },
    );
    assert.equal(change.statusCode, 303);
    assert.equal(change.headers.location, '/account?notice=email-change-sent');
    await deliver();
    const token = lastTokenTo('eve.new@example.com', '/confirm-email');
    assert.match((await get(`/confirm-email?token=${token}`)).body, /action="\/users\/me\/email\/confirm"/);
    const confirmed = await postForm('/users/me/email/confirm', { token });
    assert.equal(confirmed.statusCode, 303);
    assert.equal(confirmed.headers.location, '/confirm-email?status=confirmed');
    assert.match((await get('/account', cookie)).body, /<dd>eve\.new@example\.com /);
  });

  test('the JSON routes behind the forms answer API clients as before', async () => {
    const forgot = await t.app.inject({
      method: 'POST',
      url: '/forgot-password',
      payload: { email: 'a@example.com' },
    });
    assert.equal(forgot.statusCode, 202);
    assert.deepEqual(forgot.json(), {
      message: 'If an account has this address, a reset link is on its way',
    });
    const verify = await t.app.inject({ method: 'POST', url: '/verify', payload: { token: 'A'.repeat(43) } });
    assert.equal(verify.statusCode, 400);
    assert.deepEqual(verify.json(), { detail: 'Invalid or expired token' });
  });
});

describe('the file outbox, for trying it by hand', () => {
  let outbox: string;
  let t: TestApp;
  before(async () => {
    outbox = mkdtempSync(join(tmpdir(), 'gatehouse-outbox-'));
    t = await createTestApp({ env: { GATEHOUSE_OUTBOX_DIR: outbox } });
  });
  after(async () => {
    await t?.close();
    rmSync(outbox, { recursive: true, force: true });
  });

  test('with no SMTP server, the verification mail is an .eml file whose link verifies the address', async () => {
    const registered = await t.app.inject({
      method: 'POST',
      url: '/register',
      headers: browserFormHeaders(),
      payload: form({ username: 'hand', email: 'hand@example.com', password: PASSWORD }),
    });
    assert.equal(registered.statusCode, 303);
    await t.gatehouse.mail.runOnce();
    const files = readdirSync(outbox).filter((name) => name.endsWith('.eml'));
    assert.equal(files.length, 1);
    const mail = await simpleParser(readFileSync(join(outbox, files[0] ?? '')));
    const link = /(http\S+\/verify-email\?token=[A-Za-z0-9_-]+)/.exec(mail.text ?? '')?.[1];
    assert.ok(link, 'the mail has the link');
    assert.ok(link.startsWith(`${t.config.publicUrl}/verify-email?token=`));
    const url = new URL(link);
    const page = await t.app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
    assert.equal(page.statusCode, 200);
    const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const verified = await t.app.inject({
      method: 'POST',
      url: '/verify',
      headers: browserFormHeaders(),
      payload: form({ token }),
    });
    assert.equal(verified.statusCode, 303);
    const { accountPage } = await signInByForm(t.app, 'hand', PASSWORD);
    assert.match(accountPage, /badge-ok">verified</);
  });
});
