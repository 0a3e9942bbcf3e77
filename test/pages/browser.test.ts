/**
 * The hosted pages in a real browser (Debian's Chromium) with JavaScript turned off, as a person
 * would use them: register, sign in, see the account, sign out another device, change the
 * password, sign out everywhere, sign in with the new password. Each page is kept as a
 * screenshot under test/artifacts/, and checked again at a phone's size.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  checkPhoneLayout,
  DESKTOP,
  hasChromium,
  launchChromium,
  newWatchedContext,
  PHONE,
  screenshot,
} from '../support/browser.ts';
import { createTestApp, type TestApp } from '../support/gatehouse.ts';

const FIRST_PASSWORD = 'a walk in the rose garden';
const NEW_PASSWORD = 'tea at half past four';

if (!hasChromium)
  console.log('# skipping the pages browser test: Chromium not installed (apt-get install chromium)');

describe('the hosted pages in Chromium', { skip: !hasChromium && 'Chromium not installed' }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  before(async () => {
    // A plain-http localhost issuer gives the cookie without `Secure`, as `npm start` does.
    t = await createTestApp({
      env: { GATEHOUSE_ISSUER: 'http://localhost', GATEHOUSE_APP_NAME: 'Acme Accounts' },
    });
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.getByLabel('Username or email').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  test('without JavaScript: register, sign in, manage sessions, change the password, sign out everywhere', async () => {
    const { context, problems } = await newWatchedContext(browser, base, {
      javaScriptEnabled: false,
      viewport: DESKTOP,
    });
    const other = await newWatchedContext(browser, base, { javaScriptEnabled: false, viewport: DESKTOP });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);

      await page.goto(`${base}/register`);
      assert.equal(await page.title(), 'Create an account · Acme Accounts');
      await screenshot(page, 'register');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Email address').fill('alice@example.com');
      await page.getByLabel('Password').fill('short');
      await page.getByRole('button', { name: 'Create account' }).click();
      // The server's answer, not the browser's own validation (`novalidate`), with the field marked.
      await page.getByRole('alert').waitFor();
      assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
      assert.equal(await page.getByLabel('Username').inputValue(), 'alice', 'what was typed is kept');
      await screenshot(page, 'register-error');
      await page.getByLabel('Password').fill(FIRST_PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${base}/login?notice=registered`);
      assert.match((await page.getByRole('status').textContent()) ?? '', /Your account is ready/);
      await screenshot(page, 'login-registered');

      await signIn(page, 'alice', 'not my password');
      await page.getByRole('alert').waitFor();
      assert.match((await page.getByRole('alert').textContent()) ?? '', /Incorrect username or password/);
      await screenshot(page, 'login-error');

      await signIn(page, 'alice', FIRST_PASSWORD);
      await page.waitForURL(`${base}/account`);
      assert.equal(await page.title(), 'Your account · Acme Accounts');
      assert.match((await page.locator('.profile').textContent()) ?? '', /alice@example\.com/);
      await screenshot(page, 'account');

      // A second device signs in; the first sees it and signs it out.
      const phone = await other.context.newPage();
      await phone.goto(`${base}/login`);
      await signIn(phone, 'alice', FIRST_PASSWORD);
      await phone.waitForURL(`${base}/account`);
      await page.reload();
      assert.equal(await page.locator('.session').count(), 2);
      await page.getByRole('button', { name: /Sign out this session/ }).click();
      await page.waitForURL(`${base}/account?notice=session-revoked`);
      assert.equal(await page.locator('.session').count(), 1);
      await screenshot(page, 'account-session-revoked');
      await phone.goto(`${base}/account`);
      await phone.waitForURL(/\/login\?return_to=/);

      await page.getByLabel('Current password').fill(FIRST_PASSWORD);
      await page.getByLabel('New password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.waitForURL(`${base}/account?notice=password-changed`);
      assert.match((await page.getByRole('status').textContent()) ?? '', /Your password has been changed/);
      await screenshot(page, 'account-password-changed');

      // Another device again, then sign out everywhere from the first.
      await signIn(phone, 'alice', NEW_PASSWORD);
      await phone.waitForURL(`${base}/account`);
      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await page.waitForURL(`${base}/login?notice=signed-out-everywhere`);
      await screenshot(page, 'login-signed-out-everywhere');
      await phone.goto(`${base}/account`);
      await phone.waitForURL(/\/login\?return_to=/);
      await page.goto(`${base}/account`);
      await page.waitForURL(/\/login\?return_to=/);

      await signIn(page, 'alice', FIRST_PASSWORD);
      await page.getByRole('alert').waitFor();
      await signIn(page, 'alice', NEW_PASSWORD);
      await page.waitForURL(`${base}/account`);
      assert.deepEqual([...problems, ...other.problems], []);
    } finally {
      await context.close();
      await other.context.close();
    }
  });

  test('at a phone size: no sideways scroll, 44px tap targets, labelled inputs, on every page', async () => {
    const { context, problems } = await newWatchedContext(browser, base, {
      javaScriptEnabled: true,
      viewport: PHONE,
    });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(`${base}/register`);
      await checkPhoneLayout(page, 'register');
      await screenshot(page, 'register-phone');
      await page.getByLabel('Username').fill('bob');
      await page.getByLabel('Email address').fill('bob@example.com');
      await page.getByLabel('Password').fill('x');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('alert').waitFor();
      // The error summary has the focus, so a screen reader announces it first.
      assert.equal(
        await page.evaluate('document.activeElement && document.activeElement.id'),
        'error-summary',
      );
      await checkPhoneLayout(page, 'register error');
      await screenshot(page, 'register-error-phone');
      await page.getByLabel('Password').fill(FIRST_PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(/\/login/);
      await checkPhoneLayout(page, 'login');
      await screenshot(page, 'login-phone');
      await signIn(page, 'bob', FIRST_PASSWORD);
      await page.waitForURL(`${base}/account`);
      await checkPhoneLayout(page, 'account');
      await screenshot(page, 'account-phone');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
