/**
 * The whole journey a person makes, in Chromium with JavaScript disabled, with a real SMTP server
 * receiving the mail: register → open the verification link from the mail → sign in → account →
 * sign out everywhere → forgot password → reset link → sign in with the new password → sign in
 * with a magic link. Every page is kept as a screenshot, and each link page is also checked at a
 * phone's size.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
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
import { mailTo, startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const EMAIL = 'june@example.com';
const FIRST_PASSWORD = 'summer rain on the porch';
const NEW_PASSWORD = 'autumn leaves in the lane';

describe('the journey through the hosted pages and the mail', {
  skip: !hasChromium && 'Chromium not installed',
}, () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  let base: string;
  let browser: Browser;
  before(async () => {
    smtp = await startSmtpServer();
    t = await createTestApp({
      env: { GATEHOUSE_ISSUER: 'http://localhost', GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_APP_NAME: 'Acme' },
    });
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await smtp?.close();
  });

  /** Sends what is due, then the newest link to `path` in mail to `EMAIL`, as this server's URL. */
  async function linkFromMail(path: string, count: number): Promise<string> {
    await t.gatehouse.emailFlows.settled();
    await t.gatehouse.mail.runOnce();
    const mails = mailTo(smtp.messages, EMAIL);
    assert.equal(mails.length, count, `mail number ${count} arrived`);
    const text = mails[mails.length - 1]?.text ?? '';
    const link = new RegExp(`(\\S+${path.replace('/', '\\/')}\\?token=[A-Za-z0-9_-]+)`).exec(text)?.[1];
    assert.ok(link, `a ${path} link in: ${text}`);
    assert.ok(link.startsWith(`${t.config.publicUrl}${path}?token=`), link);
    // The mail links to GATEHOUSE_PUBLIC_URL; the test server listens on a port the OS chose.
    const url = new URL(link);
    return `${base}${url.pathname}${url.search}`;
  }

  async function signIn(page: Page, username: string, password: string): Promise<void> {
    await page.getByLabel('Username or email').fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function onPhone(phone: BrowserContext, url: string, name: string): Promise<void> {
    const page = await phone.newPage();
    await page.goto(url);
    await checkPhoneLayout(page, name);
    await screenshot(page, `journey-${name}-phone`);
    await page.close();
  }

  test('register, verify, sign in, sign out everywhere, reset the password, sign in with a magic link', async () => {
    const desktop = await newWatchedContext(browser, base, { javaScriptEnabled: false, viewport: DESKTOP });
    const phone = await newWatchedContext(browser, base, { javaScriptEnabled: true, viewport: PHONE });
    try {
      const page = await desktop.context.newPage();
      page.setDefaultTimeout(20_000);

      await page.goto(`${base}/register`);
      await page.getByLabel('Username').fill('june');
      await page.getByLabel('Email address').fill(EMAIL);
      await page.getByLabel('Full name (optional)').fill('June Carter');
      await page.getByLabel('Password').fill(FIRST_PASSWORD);
      await screenshot(page, 'journey-01-register');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${base}/login?notice=registered`);
      assert.match((await page.getByRole('status').textContent()) ?? '', /verify your address/);
      await screenshot(page, 'journey-02-registered');

      const verifyLink = await linkFromMail('/verify-email', 1);
      await onPhone(phone.context, verifyLink, '03-verify-email');
      await page.goto(verifyLink);
      await screenshot(page, 'journey-03-verify-email');
      await page.getByRole('button', { name: 'Verify my email address' }).click();
      await page.waitForURL(`${base}/verify-email?status=verified`);
      assert.match((await page.getByRole('status').textContent()) ?? '', /your email address is verified/);
      await screenshot(page, 'journey-04-verified');

      await page.goto(`${base}/login`);
      await signIn(page, 'june', FIRST_PASSWORD);
      await page.waitForURL(`${base}/account`);
      assert.match((await page.locator('.profile').textContent()) ?? '', /june@example\.com\s+verified/);
      assert.match((await page.locator('.profile').textContent()) ?? '', /June Carter/);
      await screenshot(page, 'journey-05-account');
      await onPhone(phone.context, `${base}/account`, '05-account-signed-out');

      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await page.waitForURL(`${base}/login?notice=signed-out-everywhere`);
      await screenshot(page, 'journey-06-signed-out-everywhere');

      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      await page.waitForURL(`${base}/forgot-password`);
      await page.getByLabel('Email address').fill(EMAIL);
      await screenshot(page, 'journey-07-forgot-password');
      await onPhone(phone.context, `${base}/forgot-password`, '07-forgot-password');
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await page.waitForURL(`${base}/forgot-password?notice=sent`);
      assert.match(
        (await page.getByRole('status').textContent()) ?? '',
        /a link to reset its password is on its way/,
      );
      await screenshot(page, 'journey-08-reset-sent');

      const resetLink = await linkFromMail('/reset-password', 2);
      await onPhone(phone.context, resetLink, '09-reset-password');
      await page.goto(resetLink);
      await page.getByLabel('New password').fill(NEW_PASSWORD);
      await screenshot(page, 'journey-09-reset-password');
      await page.getByRole('button', { name: 'Set new password' }).click();
      await page.waitForURL(`${base}/login?notice=password-reset`);
      await screenshot(page, 'journey-10-password-reset');
      await page.goto(resetLink);
      assert.match((await page.getByRole('status').textContent()) ?? '', /expired or was already used/);
      await screenshot(page, 'journey-11-link-used');
      await onPhone(phone.context, resetLink, '11-link-used');

      await page.goto(`${base}/login`);
      await signIn(page, 'june', FIRST_PASSWORD);
      await page.getByRole('alert').waitFor();
      await signIn(page, 'june', NEW_PASSWORD);
      await page.waitForURL(`${base}/account`);
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.waitForURL(`${base}/login?notice=signed-out`);

      await page.getByLabel('Email address').fill(EMAIL);
      await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
      await page.waitForURL(`${base}/login?notice=magic-link-sent`);
      await screenshot(page, 'journey-12-magic-link-sent');
      await onPhone(phone.context, `${base}/login`, '12-login');

      const magicLink = await linkFromMail('/magic-link', 3);
      await onPhone(phone.context, magicLink, '13-magic-link');
      await page.goto(magicLink);
      await screenshot(page, 'journey-13-magic-link');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${base}/account`);
      assert.match((await page.locator('.signed-in').textContent()) ?? '', /june/);
      await screenshot(page, 'journey-14-account-by-magic-link');

      assert.deepEqual([...desktop.problems, ...phone.problems], []);
    } finally {
      await desktop.context.close();
      await phone.context.close();
    }
  });
});
