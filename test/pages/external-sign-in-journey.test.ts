/**
 * External sign-in in Chromium, JavaScript off: "Continue with Test IdP" on /login → the provider →
 * back on /account, signed in; connect GitHub (its consent page) from /account; disconnect it;
 * sign out; sign in again with the provider. The pages keep their CSP throughout. An account with
 * a second factor goes on from the provider's callback to the same second step as a password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { findSession } from '../../src/store/sessions.ts';
import { ENCRYPTION_KEY, STEP_MS } from '../factors/support.ts';
import { DESKTOP, freePort, hasChromium, launchChromium, screenshot } from '../support/browser.ts';
import {
  startGithubStandIn,
  startOidcProvider,
  type TestGithub,
  type TestOidcProvider,
} from '../support/external-providers.ts';
import { createTestApp, type TestApp } from '../support/gatehouse.ts';

describe('external sign-in in the browser', { skip: !hasChromium && 'Chromium not installed' }, () => {
  let t: TestApp;
  let oidc: TestOidcProvider;
  let github: TestGithub;
  let browser: Browser;
  let base: string;

  before(async () => {
    oidc = await startOidcProvider();
    github = await startGithubStandIn({ consentPage: true });
    const port = await freePort();
    base = `http://localhost:${port}`;
    t = await createTestApp({
      env: {
        GATEHOUSE_ISSUER: base,
        GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY,
        GATEHOUSE_OIDC_TEST_ISSUER: oidc.issuer,
        GATEHOUSE_OIDC_TEST_CLIENT_ID: 'journey',
        GATEHOUSE_OIDC_TEST_CLIENT_SECRET: 'journey-secret',
        GATEHOUSE_OIDC_TEST_TRUST_EMAIL: 'true',
        GATEHOUSE_OIDC_TEST_DISPLAY_NAME: 'Test IdP',
        GATEHOUSE_GITHUB_CLIENT_ID: 'gh-journey',
        GATEHOUSE_GITHUB_CLIENT_SECRET: 'gh-secret',
        GATEHOUSE_GITHUB_URL: github.url,
        GATEHOUSE_GITHUB_API_URL: `${github.url}/api`,
      },
    });
    await t.app.listen({ host: '127.0.0.1', port });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await oidc?.close();
    await github?.close();
  });

  test('continue with a provider, connect and disconnect GitHub, sign out, sign in again', async () => {
    oidc.claims = {
      sub: 'journey-person',
      email: 'journey@example.com',
      email_verified: true,
      preferred_username: 'journeyer',
    };
    github.user = {
      id: 77,
      login: 'journeyer-gh',
      emails: [{ email: 'journey@example.com', primary: true, verified: true }],
    };
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
    const cspProblems: string[] = [];
    context.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) cspProblems.push(message.text());
    });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      const button = page.getByRole('link', { name: 'Continue with Test IdP' });
      assert.equal(await button.count(), 1);
      assert.equal(await page.locator('svg.provider-mark').count(), 2, 'inline marks, no images');
      await screenshot(page, 'external-login');
      await button.click();
      await page.waitForURL(`${base}/account`);
      assert.match((await page.locator('.signed-in').textContent()) ?? '', /journeyer/);
      assert.match((await page.locator('#identities-title').textContent()) ?? '', /Connected accounts/);
      assert.equal(await page.getByRole('button', { name: 'Disconnect Test IdP' }).count(), 1);

      await page.getByRole('button', { name: 'Connect GitHub' }).click();
      await page.getByRole('link', { name: 'Authorize' }).click();
      await page.waitForURL(`${base}/account?notice=identity-linked`);
      assert.equal(await page.getByRole('button', { name: 'Disconnect GitHub' }).count(), 1);
      await screenshot(page, 'external-account-linked');

      await page.getByRole('button', { name: 'Disconnect GitHub' }).click();
      await page.waitForURL(`${base}/account?notice=identity-unlinked`);
      assert.equal(await page.getByRole('button', { name: 'Disconnect GitHub' }).count(), 0);
      // The only way in left, with no password: refused with a message, still signed in.
      await page.getByRole('button', { name: 'Disconnect Test IdP' }).click();
      assert.match((await page.locator('.error-summary').textContent()) ?? '', /only way to sign in/);

      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.waitForURL(`${base}/login?notice=signed-out`);
      await page.getByRole('link', { name: 'Continue with Test IdP' }).click();
      await page.waitForURL(`${base}/account`);
      assert.match((await page.locator('.signed-in').textContent()) ?? '', /journeyer/);
      assert.deepEqual(cspProblems, []);
    } finally {
      await context.close();
    }
  });

  test('the callback shows the second step; the code signs in with ext + otp and goes on to return_to', async () => {
    oidc.claims = {
      sub: 'two-factor-person',
      email: 'two@example.com',
      email_verified: true,
      preferred_username: 'twofactor',
    };
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.getByRole('link', { name: 'Continue with Test IdP' }).click();
      await page.waitForURL(`${base}/account`);

      // An authenticator app from the account page.
      await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
      const secret = ((await page.locator('code.secret').textContent()) ?? '').replace(/ /g, '');
      await page.fill('#code', totpCode(secret, t.clock.now()));
      await page.getByRole('button', { name: 'Confirm' }).click();
      assert.equal(await page.locator('ol.recovery-codes li').count(), 10);
      await page.goto(`${base}/account`);
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.waitForURL(/\/login/);

      await page.goto(`${base}/login?return_to=${encodeURIComponent('/users/me')}`);
      await page.getByRole('link', { name: 'Continue with Test IdP' }).click();
      await page.waitForSelector('#otp');
      assert.match((await page.locator('h1').textContent()) ?? '', /Second step/);
      assert.equal(
        (await context.cookies()).some((c) => c.name.includes('session')),
        false,
        'no session before the second factor',
      );
      t.clock.advance(STEP_MS);
      await page.fill('#otp', totpCode(secret, t.clock.now()));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(`${base}/users/me`);
      assert.match((await page.textContent('body')) ?? '', /"username":"twofactor"/);

      const cookie = (await context.cookies()).find((c) => c.name.includes('session'));
      assert.ok(cookie, 'a session cookie');
      const session = await findSession(t.gatehouse.store.db, cookie.value.split('.')[0] ?? '');
      assert.deepEqual([...(session?.amr ?? [])].sort(), ['ext', 'mfa', 'otp']);
      assert.equal(session?.externalProvider, 'test');
    } finally {
      await context.close();
    }
  });
});
