/**
 * The docs page in a real browser (Debian's Chromium driven by playwright-core): the Authorize
 * dialog logs in with the OAuth2 password flow against /token, and "Try it out" on /users/me
 * then answers 200 — with no CSP violation and no request leaving the machine.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BrowserContext, chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from '../support/browser.ts';
import { createTestApp, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

if (!hasChromium)
  console.log('# skipping the docs browser test: Chromium not installed (apt-get install chromium)');

describe('the /docs page in Chromium', {
  skip: !hasChromium && 'Chromium not installed (apt-get install chromium)',
}, () => {
  let t: TestApp;
  let base: string;
  let context: BrowserContext;
  let profile: string;
  before(async () => {
    t = await createTestApp();
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    await registerUser(t.app, 'alice', { full_name: 'Alice Liddell' });
    profile = mkdtempSync(join(tmpdir(), 'gatehouse-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS],
    });
  });
  after(async () => {
    await context?.close();
    await t?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('Authorize with the password flow, then Try it out on GET /users/me answers 200', async () => {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const problems: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:'))
        problems.push(`external request ${request.url()}`);
    });

    await page.goto(`${base}/docs`);
    await page.locator('.auth-wrapper button.authorize').click();
    const modal = page.locator('.modal-ux');
    await modal.locator('#oauth_username').fill('alice');
    await modal.locator('#oauth_password').fill(PASSWORD);
    const tokenResponse = page.waitForResponse((response) => response.url() === `${base}/token`);
    await modal.locator('.auth-btn-wrapper button.authorize').first().click();
    assert.equal((await tokenResponse).status(), 200);
    await modal.locator('button.btn-done').first().click();

    const operation = page.locator('#operations-users-get_users_me');
    await operation.locator('.opblock-summary').click();
    await operation.locator('button.try-out__btn').click();
    const meResponse = page.waitForResponse((response) => response.url() === `${base}/users/me`);
    await operation.locator('button.execute').click();
    assert.equal((await meResponse).status(), 200);
    const status = operation.locator('.live-responses-table .response .response-col_status').first();
    assert.equal((await status.textContent())?.trim(), '200');
    assert.match(
      (await operation.locator('.live-responses-table .microlight').first().textContent()) ?? '',
      /"username": "alice"/,
    );
    assert.deepEqual(problems, []);
  });
});

describe('documentation routes', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  test('/openapi.json is OpenAPI 3.1 with the password flow against /token, and /users/me declares it', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.components.securitySchemes.OAuth2PasswordBearer.flows.password.tokenUrl, '/token');
    assert.deepEqual(doc.paths['/users/me'].get.security[0], { OAuth2PasswordBearer: ['profile:read'] });
    assert.ok(doc.paths['/register'].post.requestBody);
    assert.ok(doc.paths['/users/me'].get.responses['200']);
  });

  test('/redoc serves a page that reads /openapi.json', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/redoc' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /text\/html/);
    assert.match(response.body, /spec-url="\/openapi.json"/);
  });
});
