/**
 * Logout and "Apps with access" in Chromium (JavaScript off), with openid-client as the relying
 * party: RP-initiated logout with `buildEndSessionUrl` lands on the app's registered URI with its
 * `state`; without an ID token the confirmation page asks first; the account page lists the app
 * and its "Remove access" button ends the app's refresh token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DESKTOP, hasChromium, launchChromium, screenshot } from '../support/browser.ts';
import { DATABASES, PASSWORD } from '../support/gatehouse.ts';
import { authorizationRequest, type Provider, startAppServer, startProvider } from './provider-support.ts';

const SCOPE = 'openid profile email offline_access';

async function arriveAt(page: Page, prefix: string): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(prefix));
  return new URL(page.url());
}

for (const database of DATABASES) {
  describe(`OpenID Provider logout in the browser (${database.name})`, {
    skip: !hasChromium && 'Chromium not installed',
  }, () => {
    let provider: Provider;
    let browser: Browser;
    let rp: client.Configuration;
    let appServer: Awaited<ReturnType<typeof startAppServer>>;
    let callback: string;
    let signedOut: string;

    before(async () => {
      provider = await startProvider(database.url);
      appServer = await startAppServer();
      callback = appServer.callback;
      signedOut = callback.replace('/callback', '/signed-out');
      browser = await launchChromium();
      const web = await provider.register({
        client_name: 'Dashboard',
        redirect_uris: [callback],
        post_logout_redirect_uris: [signedOut],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: SCOPE,
      });
      rp = await provider.relyingParty(web.clientId, web.clientSecret);
    });
    after(async () => {
      await browser?.close();
      await appServer?.close();
      await provider?.close();
    });

    /** Signs alice in to Dashboard through the pages (sign-in, consent when asked); openid-client's tokens. */
    async function signIn(context: BrowserContext, page: Page) {
      // Signed in first on its own: the sign-in form's CSP (form-action 'self') would stop its
      // redirect chain at the client's redirect URI when consent is already remembered.
      await page.goto(`${provider.issuer}/login`);
      await page.getByLabel('Username or email').fill('alice');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/account/);
      const request = await authorizationRequest(rp, callback, { scope: SCOPE });
      await page.goto(request.url.href);
      if (page.url().startsWith(`${provider.issuer}/authorize`)) {
        await page.getByRole('button', { name: 'Allow' }).click();
      }
      const tokens = await client.authorizationCodeGrant(rp, await arriveAt(page, callback), request.checks);
      assert.ok(tokens.id_token && tokens.refresh_token && (await context.cookies()).length > 0);
      return tokens;
    }

    test('RP-initiated logout with the ID token lands on the app’s page with its state; the session is over', async () => {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const tokens = await signIn(context, page);
      const state = client.randomState();
      await page.goto(
        client.buildEndSessionUrl(rp, {
          id_token_hint: tokens.id_token ?? '',
          post_logout_redirect_uri: signedOut,
          state,
        }).href,
      );
      const landed = await arriveAt(page, signedOut);
      assert.equal(landed.searchParams.get('state'), state);
      await page.goto(`${provider.issuer}/account`);
      await page.waitForURL(/\/login\?/);
      await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token ?? ''), {
        error: 'invalid_grant',
      });

      // Without the ID token, the user is asked first; "Sign out" ends the session and goes back.
      const again = await signIn(context, page);
      await page.goto(
        client.buildEndSessionUrl(rp, { post_logout_redirect_uri: signedOut, state: 'asked' }).href,
      );
      assert.equal(await page.title(), 'Sign out? · Acme');
      assert.match(
        (await page.locator('main').textContent()) ?? '',
        /Dashboard asks to sign you out of Acme/,
      );
      await screenshot(page, 'oidc-logout-confirm');
      await page.getByRole('button', { name: 'Sign out' }).click();
      assert.equal((await arriveAt(page, signedOut)).searchParams.get('state'), 'asked');
      await assert.rejects(client.refreshTokenGrant(rp, again.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
      await context.close();
    });

    test('a relying party’s form post to /logout (no JavaScript) ends the session and lands on its page', async () => {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const tokens = await signIn(context, page);
      const url = client.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token ?? '',
        post_logout_redirect_uri: signedOut,
        state: 'form-posted',
      });
      const inputs = [...url.searchParams].map(
        ([name, value]) => `<input type="hidden" name="${name}" value="${value}">`,
      );
      // The app's own page: another site than Gatehouse.
      await page.goto(signedOut.replace('/signed-out', '/bye'));
      await page.setContent(
        `<form method="post" action="${provider.issuer}/logout">${inputs.join('')}<button>Sign out</button></form>`,
      );
      await page.getByRole('button', { name: 'Sign out' }).click();
      assert.equal((await arriveAt(page, signedOut)).searchParams.get('state'), 'form-posted');
      await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
      await context.close();
    });

    test('the account page lists the app with its scopes in words; Remove access ends its refresh token', async () => {
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const tokens = await signIn(context, page);
      await page.goto(`${provider.issuer}/account`);
      const section = page.getByRole('region', { name: 'Apps with access' });
      const text = (await section.textContent()) ?? '';
      assert.match(text, /Dashboard/);
      assert.match(text, /See your name and username/);
      assert.match(text, /Stay connected to your account when you are not using the app/);
      await screenshot(page, 'account-apps-with-access');
      await section.getByRole('button', { name: 'Remove access of Dashboard' }).click();
      await page.waitForURL(/\/account\?notice=app-removed/);
      assert.match((await page.locator('main').textContent()) ?? '', /That app no longer has access/);
      assert.match(
        (await page.getByRole('region', { name: 'Apps with access' }).textContent()) ?? '',
        /No app has access/,
      );
      await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
      await context.close();
    });
  });
}
