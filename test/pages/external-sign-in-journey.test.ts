/**
 * External sign-in in Chromium, JavaScript off: "Continue with Test IdP" on /login → the provider →
 * back on /account, signed in; connect GitHub (its consent page) from /account; disconnect it;
 * sign out; sign in again with the provider. The pages keep their CSP throughout.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { DESKTOP, hasChromium, launchChromium, screenshot } from '../support/browser.ts';
import {
  startGithubStandIn,
  startOidcProvider,
  type TestGithub,
  type TestOidcProvider,
} from '../support/external-providers.ts';
import { createTestApp, type TestApp } from '../support/gatehouse.ts';

/** A port the OS says is free, so the issuer (and so the callback URL) can name it before listening. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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
});
