/**
 * Passkeys in a real browser: Chromium's virtual authenticator (the CDP WebAuthn domain). Register a
 * passkey on /account, sign out, sign in with it and no password; sign in with the password and
 * the passkey as second factor; a cloned credential whose sign count is lower is refused. The
 * pages run only their one first-party script, allowed by its hash.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { listAuditEvents } from '../../src/store/audit.ts';
import { findSession } from '../../src/store/sessions.ts';
import {
  addVirtualAuthenticator,
  DESKTOP,
  hasChromium,
  launchChromium,
  listeningAtLocalhost,
  newWatchedContext,
  passkeyPage,
} from '../support/browser.ts';
import { PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

describe('passkeys in Chromium', { skip: hasChromium ? false : 'needs /usr/bin/chromium' }, () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  before(async () => {
    ({ t, base } = await listeningAtLocalhost());
    await registerUser(t.app, 'alice');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signInWithPassword(page: Page, username = 'alice'): Promise<void> {
    await page.goto(`${base}/login`);
    await page.fill('#username', username);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
  }

  async function signOut(page: Page): Promise<void> {
    await page.goto(`${base}/account`);
    await page.click('form[action="/logout"] button');
    await page.waitForURL(/\/login/);
  }

  test('register a passkey on /account, sign out, sign in with it alone; then password + passkey; a clone with a lower sign count is refused', async () => {
    // Without conditional UI (the next test has it), so that the buttons are what signs in.
    const { context, problems, page, cdp, authenticatorId } = await passkeyPage(browser, base);

    await signInWithPassword(page);
    await page.waitForURL(/\/account/);
    await page.click('button[data-passkey="register"]');
    await page.waitForSelector('#passkey-recovery-codes:not([hidden]) li');
    assert.equal(await page.locator('#passkey-recovery-codes li').count(), 10);

    await signOut(page);
    await page.click('button[data-passkey="signin"]');
    await page.waitForURL(/\/account/);
    assert.match((await page.textContent('header')) ?? '', /alice/);

    await signOut(page);
    await signInWithPassword(page);
    await page.waitForSelector('button[data-passkey="mfa"]');
    await page.click('button[data-passkey="mfa"]');
    await page.waitForURL(/\/account/);

    // The authenticator is cloned: the same key, with a counter from before the last sign-ins.
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    const credential = credentials[0];
    assert.ok(credential);
    assert.ok(credential.signCount >= 2, `sign count ${credential.signCount}`);
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    const clone = await addVirtualAuthenticator(page);
    await clone.cdp.send('WebAuthn.addCredential', {
      authenticatorId: clone.authenticatorId,
      credential: { ...credential, signCount: 0 },
    });
    await signOut(page);
    await page.click('button[data-passkey="signin"]');
    // A locator waits from Playwright's own world: a polled string predicate is eval'd in the page,
    // which the page's CSP (rightly) refuses once the first check has not already succeeded.
    await page.locator('#passkey-status-signin').filter({ hasText: 'failed' }).waitFor();
    assert.match(page.url(), /\/login/);
    const regressions = await listAuditEvents(t.gatehouse.store.db, {
      event: 'webauthn.sign_count_regressed',
      limit: 10,
    });
    assert.equal(regressions.length, 1);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("without JavaScript /login shows no passkey control; with it the section shows and the username field's autofill (conditional UI) signs in with a passkey", async () => {
    const plain = await newWatchedContext(browser, base, { javaScriptEnabled: false, viewport: DESKTOP });
    const noScript = await plain.context.newPage();
    await noScript.goto(`${base}/login`);
    assert.equal(await noScript.locator('#passkey-title').isVisible(), false);
    assert.equal(await noScript.locator('button[data-passkey="signin"]').isVisible(), false);
    assert.equal(await noScript.getAttribute('#username', 'autocomplete'), 'username webauthn');
    await plain.context.close();

    await registerUser(t.app, 'bob');
    const { context, problems } = await newWatchedContext(browser, base, {
      javaScriptEnabled: true,
      viewport: DESKTOP,
    });
    const page = await context.newPage();
    await addVirtualAuthenticator(page);
    await page.goto(`${base}/login`);
    assert.equal(await page.locator('#passkey-title').isVisible(), true, 'shown by the script');
    await signInWithPassword(page, 'bob');
    await page.waitForURL(/\/account/);
    await page.click('button[data-passkey="register"]');
    await page.waitForSelector('#passkey-recovery-codes:not([hidden]) li');
    // Signed out without passing through /login, whose autofill would sign in again at once.
    await context.clearCookies();

    await page.goto(`${base}/login?return_to=${encodeURIComponent('/users/me')}`);
    // Chromium's virtual authenticator answers a conditional request by itself, as a person
    // picking the passkey in the username field's autofill would.
    await page.waitForURL(`${base}/users/me`);
    assert.match((await page.textContent('body')) ?? '', /"username":"bob"/);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('an account without a password steps up on /account with its passkey; the session then counts as MFA', async () => {
    await registerUser(t.app, 'carol');
    const { context, problems, page } = await passkeyPage(browser, base);
    await signInWithPassword(page, 'carol');
    await page.waitForURL(/\/account/);
    await page.click('button[data-passkey="register"]');
    await page.waitForSelector('#passkey-recovery-codes:not([hidden]) li');
    // Passwordless from now on (as an account claimed by its mailbox's owner would be).
    await t.gatehouse.store.db
      .updateTable('users')
      .set({ password_hash: null })
      .where('username', '=', 'carol')
      .execute();

    t.clock.advance(11 * 60_000);
    await page.goto(`${base}/account`);
    assert.match((await page.textContent('#reauth-title')) ?? '', /Confirm it is you/);
    assert.equal(await page.locator('#reauth-password').count(), 0, 'no password to ask for');
    // A change posted anyway: the page that refuses it (401) offers the passkey too, its script allowed.
    await page.fill('#email-email', 'carol.new@example.com');
    await page.getByRole('button', { name: 'Change email' }).click();
    assert.match((await page.locator('.error-summary').textContent()) ?? '', /second factor required/);
    await page.click('button[data-passkey="reauth"]');
    await page.waitForURL(`${base}/account?notice=reauthenticated`);
    assert.equal(await page.locator('#reauth-title').count(), 0);

    const cookie = (await context.cookies()).find((c) => c.name.includes('session'));
    const session = await findSession(t.gatehouse.store.db, cookie?.value.split('.')[0] ?? '');
    assert.deepEqual(session?.amr, ['hwk', 'user', 'mfa']);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
