/**
 * Enrolment by policy on the hosted pages, in Chromium (GATEHOUSE_MFA=required_for_admins): an
 * admin without a factor signs in with the password and is walked through setting one up instead
 * of stopping at `mfa_enrollment_required`: an authenticator app without JavaScript (QR code, key,
 * a code), or a passkey with the script; the recovery codes are shown once, and the sign-in
 * finishes with both factors and goes on to `return_to`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { findSession } from '../../src/store/sessions.ts';
import { ENCRYPTION_KEY } from '../factors/support.ts';
import {
  DESKTOP,
  hasChromium,
  launchChromium,
  listeningAtLocalhost,
  newWatchedContext,
  passkeyPage,
} from '../support/browser.ts';
import { PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

describe('enrolment by policy in Chromium', { skip: hasChromium ? false : 'needs /usr/bin/chromium' }, () => {
  let t: TestApp;
  let browser: Browser;
  let base: string;
  before(async () => {
    ({ t, base } = await listeningAtLocalhost({
      GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY,
      GATEHOUSE_MFA: 'required_for_admins',
    }));
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  const admin = (username: string) =>
    t.gatehouse.accounts.register({
      username,
      email: `${username}@example.com`,
      password: PASSWORD,
      roles: ['user', 'admin'],
    });

  async function sessionOf(context: BrowserContext) {
    const cookie = (await context.cookies()).find((c) => c.name.includes('session'));
    return findSession(t.gatehouse.store.db, cookie?.value.split('.')[0] ?? '');
  }

  test('without JavaScript: password, then an authenticator app (QR code, key, a code), recovery codes once, then return_to', async () => {
    await admin('root');
    const { context, problems } = await newWatchedContext(browser, base, {
      javaScriptEnabled: false,
      viewport: DESKTOP,
    });
    const page = await context.newPage();
    await page.goto(`${base}/login?return_to=${encodeURIComponent('/users/me')}`);
    await page.fill('#username', 'root');
    await page.fill('#password', PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    assert.match((await page.locator('h1').textContent()) ?? '', /Set up a second factor/);
    assert.equal(await page.getByRole('button', { name: 'Add a passkey' }).isVisible(), false);
    assert.equal(await sessionOf(context), undefined, 'no session before a factor');

    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    assert.equal(await page.locator('.qr svg').count(), 1, 'the QR code, an inline SVG');
    const secret = ((await page.locator('code.secret').textContent()) ?? '').replace(/ /g, '');
    const right = totpCode(secret, t.clock.now());
    await page.fill('#code', right === '000000' ? '111111' : '000000');
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.match((await page.locator('.error-summary').textContent()) ?? '', /Invalid code/);
    await page.fill('#code', right);
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.equal(await page.locator('ol.recovery-codes li').count(), 10);
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.waitForURL(`${base}/users/me`);
    assert.match((await page.textContent('body')) ?? '', /"username":"root"/);
    assert.deepEqual([...((await sessionOf(context))?.amr ?? [])].sort(), ['mfa', 'otp', 'pwd']);
    assert.deepEqual(problems, []);
    await context.close();

    // A plain user is not asked: the policy is for admins.
    await registerUser(t.app, 'plain');
    const plain = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
    const other = await plain.newPage();
    await other.goto(`${base}/login`);
    await other.fill('#username', 'plain');
    await other.fill('#password', PASSWORD);
    await other.getByRole('button', { name: 'Sign in', exact: true }).click();
    await other.waitForURL(`${base}/account`);
    await plain.close();
  });

  test('with JavaScript: password, then "Add a passkey", recovery codes once, then return_to', async () => {
    await admin('chief');
    const { context, problems, page } = await passkeyPage(browser, base);
    await page.goto(`${base}/login?return_to=${encodeURIComponent('/users/me')}`);
    await page.fill('#username', 'chief');
    await page.fill('#password', PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForSelector('#passkey-recovery-codes:not([hidden]) li');
    assert.equal(await page.locator('#passkey-recovery-codes li').count(), 10);
    await page.locator('#passkey-recovery-codes').getByRole('link', { name: 'Continue' }).click();
    await page.waitForURL(`${base}/users/me`);
    assert.match((await page.textContent('body')) ?? '', /"username":"chief"/);
    const amr = (await sessionOf(context))?.amr ?? [];
    assert.ok(amr.includes('pwd') && amr.includes('hwk') && amr.includes('mfa'), amr.join(' '));
    assert.deepEqual(problems, []);
    await context.close();
  });
});
