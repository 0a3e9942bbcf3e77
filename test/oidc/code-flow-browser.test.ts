/**
 * Single sign-on through Gatehouse with openid-client as the relying party, driven through the
 * hosted pages by Chromium (JavaScript off): authorization code + PKCE for a confidential web
 * client, consent given then remembered, prompt=none with and without a session, userinfo,
 * refresh with rotation, a public native client on a loopback port, and client_credentials.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DESKTOP, hasChromium, launchChromium, screenshot } from '../support/browser.ts';
import { DATABASES, PASSWORD } from '../support/gatehouse.ts';
import { authorizationRequest, type Provider, startAppServer, startProvider } from './provider-support.ts';

async function appContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ javaScriptEnabled: false, viewport: DESKTOP });
}

async function arriveAt(page: Page, prefix: string): Promise<URL> {
  await page.waitForURL((url) => url.href.startsWith(prefix));
  return new URL(page.url());
}

for (const database of DATABASES) {
  describe(`OpenID Provider in the browser (${database.name})`, {
    skip: !hasChromium && 'Chromium not installed',
  }, () => {
    let provider: Provider;
    let browser: Browser;
    let web: { clientId: string; clientSecret: string | undefined };
    let rp: client.Configuration;
    let app: Awaited<ReturnType<typeof startAppServer>>;
    let APP_CALLBACK: string;

    before(async () => {
      provider = await startProvider(database.url);
      app = await startAppServer();
      APP_CALLBACK = app.callback;
      browser = await launchChromium();
      web = await provider.register({
        client_name: 'Dashboard',
        redirect_uris: [APP_CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access',
      });
      rp = await provider.relyingParty(web.clientId, web.clientSecret);
    });
    after(async () => {
      await browser?.close();
      await app?.close();
      await provider?.close();
    });

    test('sign in, consent, code + PKCE, tokens, userinfo; consent remembered; prompt=none; refresh rotates', async () => {
      const context = await appContext(browser);
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const first = await authorizationRequest(rp, APP_CALLBACK, {
        scope: 'openid profile email offline_access',
      });
      await page.goto(first.url.href);
      await page.waitForURL(/\/login\?/);
      assert.match((await page.locator('main').textContent()) ?? '', /Sign in to continue to Dashboard/);
      await screenshot(page, 'oidc-login');
      await page.getByLabel('Username or email').fill('alice');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/authorize\?/);
      assert.equal(await page.title(), 'Allow Dashboard? · Acme');
      assert.match((await page.locator('main').textContent()) ?? '', /See your email address/);
      await screenshot(page, 'oidc-consent');
      await page.getByRole('button', { name: 'Allow' }).click();
      const callback = await arriveAt(page, APP_CALLBACK);
      assert.equal(callback.searchParams.get('iss'), provider.issuer);

      const tokens = await client.authorizationCodeGrant(rp, callback, first.checks);
      const claims = tokens.claims();
      assert.ok(claims);
      assert.equal(claims.aud, web.clientId);
      assert.equal(claims.preferred_username, 'alice');
      assert.equal(claims.email, 'alice@example.com');
      assert.equal(typeof claims.sid, 'string');
      assert.deepEqual(claims.amr, ['pwd']);
      assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
      const info = await client.fetchUserInfo(rp, tokens.access_token, claims.sub);
      assert.deepEqual(info, {
        sub: claims.sub,
        preferred_username: 'alice',
        name: 'Alice Liddell',
        email: 'alice@example.com',
        email_verified: false,
      });

      // The same scopes again: no sign-in page, no consent screen (SSO, consent remembered).
      const second = await authorizationRequest(rp, APP_CALLBACK, {
        scope: 'openid profile email offline_access',
      });
      await page.goto(second.url.href);
      const again = await arriveAt(page, APP_CALLBACK);
      const secondTokens = await client.authorizationCodeGrant(rp, again, second.checks);
      assert.equal(secondTokens.claims()?.sub, claims.sub);
      assert.equal(secondTokens.claims()?.sid, claims.sid, 'one browser session serves the client');

      // prompt=none with the session: a code, without a page.
      const silent = await authorizationRequest(rp, APP_CALLBACK, { prompt: 'none' });
      await page.goto(silent.url.href);
      const silentTokens = await client.authorizationCodeGrant(
        rp,
        await arriveAt(page, APP_CALLBACK),
        silent.checks,
      );
      assert.equal(silentTokens.claims()?.sub, claims.sub);

      // Refresh rotates: a new refresh token; the spent one is refused and ends the session.
      const refreshed = await client.refreshTokenGrant(rp, tokens.refresh_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
      assert.equal(refreshed.scope, 'openid profile email offline_access');
      await client.fetchUserInfo(rp, refreshed.access_token, claims.sub);
      provider.t.clock.advance(60_000); // past the grace window of a racing second presenter
      await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token), { error: 'invalid_grant' });
      // Reuse detection ended the token session: the rotated token is dead too.
      await assert.rejects(client.refreshTokenGrant(rp, refreshed.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
      await context.close();
    });

    test('consent remembered, no session: signing in on /login goes straight on to the client (CSP form-action allows it)', async () => {
      const context = await appContext(browser);
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      // The first test remembered alice's consent to these scopes; this browser has no session.
      const request = await authorizationRequest(rp, APP_CALLBACK, {
        scope: 'openid profile email offline_access',
      });
      await page.goto(request.url.href);
      await page.waitForURL(/\/login\?/);
      const response = await page.reload();
      const csp = (await response?.headerValue('content-security-policy')) ?? '';
      assert.match(csp, new RegExp(`form-action 'self' ${new URL(APP_CALLBACK).origin}(;|$)`));
      await page.getByLabel('Username or email').fill('alice');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const callback = await arriveAt(page, APP_CALLBACK);
      const tokens = await client.authorizationCodeGrant(rp, callback, request.checks);
      assert.equal(tokens.claims()?.preferred_username, 'alice');
      await context.close();
    });

    test('a sign-in page for an unregistered redirect URI keeps form-action to itself', async () => {
      const response = await fetch(
        `${provider.issuer}/login?return_to=${encodeURIComponent(`/authorize?client_id=${web.clientId}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`)}`,
        { headers: { accept: 'text/html' } },
      );
      assert.equal(response.status, 200);
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /form-action 'self';/);
      assert.doesNotMatch(csp, /evil/);
    });

    test('prompt=none without a session answers login_required at the redirect URI', async () => {
      const context = await appContext(browser);
      const page = await context.newPage();
      const silent = await authorizationRequest(rp, APP_CALLBACK, { prompt: 'none' });
      await page.goto(silent.url.href);
      const callback = await arriveAt(page, APP_CALLBACK);
      assert.equal(callback.searchParams.get('error'), 'login_required');
      await assert.rejects(client.authorizationCodeGrant(rp, callback, silent.checks), {
        error: 'login_required',
      });
      await context.close();
    });

    test('a public native client on a loopback port: PKCE only, no secret', async () => {
      const native = await provider.register({
        client_name: 'Desktop app',
        redirect_uris: ['http://localhost/callback'],
        token_endpoint_auth_method: 'none',
        scope: 'openid profile',
      });
      const nativeRp = await provider.relyingParty(native.clientId, undefined);
      const context = await appContext(browser);
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      // Registered without a port: a native app's loopback listener takes any port (RFC 8252 §7.3).
      const redirect = APP_CALLBACK;
      const request = await authorizationRequest(nativeRp, redirect, {
        scope: 'openid profile',
        login_hint: 'alice',
      });
      await page.goto(request.url.href);
      assert.equal(await page.getByLabel('Username or email').inputValue(), 'alice', 'login_hint fills it');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      const tokens = await client.authorizationCodeGrant(
        nativeRp,
        await arriveAt(page, redirect),
        request.checks,
      );
      assert.equal(tokens.claims()?.preferred_username, 'alice');
      assert.equal(tokens.refresh_token, undefined, 'no offline_access, no refresh token');
      await context.close();
    });

    test('client_credentials: a machine token with the client as subject and its audience', async () => {
      const machine = await provider.register({
        client_name: 'Billing job',
        grant_types: ['client_credentials'],
        audience: 'https://billing.example.com',
        scope: 'profile:read',
      });
      const machineRp = await provider.relyingParty(machine.clientId, machine.clientSecret);
      const tokens = await client.clientCredentialsGrant(machineRp);
      assert.equal(tokens.refresh_token, undefined);
      assert.equal(tokens.id_token, undefined);
      const payload = JSON.parse(
        Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString(),
      );
      assert.equal(payload.sub, machine.clientId);
      assert.equal(payload.client_id, machine.clientId);
      assert.equal(payload.aud, 'https://billing.example.com');
      assert.equal(payload.scope, 'profile:read');
    });
  });
}
