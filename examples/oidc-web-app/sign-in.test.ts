/**
 * The README's single sign-on walkthrough, done for real: `gatehouse serve` on a fresh SQLite file,
 * the README's one `gatehouse clients add` command against the same database, the example app
 * started as its README line says with the client_id and secret that command printed, and a person
 * in Chromium signing into the example app through Gatehouse's pages, then signing out.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DESKTOP, hasChromium, launchChromium, screenshot } from '../../test/support/browser.ts';
import { codeBlocks } from '../../test/support/doc-blocks.ts';
import { FAST_ARGON2, PASSWORD } from '../../test/support/gatehouse.ts';
import { freePort, type Running, start } from '../../test/support/process.ts';

const BIN = resolve('bin/gatehouse.js');
const SECTION = '## Single sign-on for your apps (OpenID Provider)';
const [REGISTER = '', START = ''] = codeBlocks('README.md')
  .filter((block) => block.heading === SECTION && block.lang === 'sh')
  .map((block) => block.code);
const SCRIPT = 'example:oidc-web-app';

/** The README's start line: its environment variables and the npm script it runs. */
function startLine(): { env: Record<string, string>; script: string } {
  const match = /^((?:[A-Z_]+=\S+\s+)+)npm run (\S+)\s*$/.exec(START.trim());
  assert.ok(match?.[1] && match[2], `README start line: ${START}`);
  const env = Object.fromEntries(
    match[1]
      .trim()
      .split(/\s+/)
      .map((pair) => pair.split('=', 2)),
  );
  return { env, script: match[2] };
}

/** The npm script's command, `node <file>`, as the arguments to give Node. */
function scriptArguments(name: string): string[] {
  const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
  const [node, ...args] = (scripts[name] ?? '').split(' ');
  assert.equal(node, 'node', `package.json script ${name}`);
  return args;
}

describe('examples/oidc-web-app: the README walkthrough', {
  skip: !hasChromium && 'Chromium not installed',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-oidc-web-app-'));
  const running: Running[] = [];
  let browser: Browser | undefined;
  after(async () => {
    await browser?.close();
    await Promise.all(running.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('register the app with one command, sign into it through Gatehouse, sign out', async () => {
    const gatehousePort = await freePort();
    const issuer = `http://127.0.0.1:${gatehousePort}`;
    const gatehouseEnv = {
      GATEHOUSE_PORT: String(gatehousePort),
      GATEHOUSE_ISSUER: issuer,
      GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
      GATEHOUSE_APP_NAME: 'Acme',
      ...FAST_ARGON2,
    };
    running.push(
      await start([BIN, 'serve'], gatehouseEnv, /Server listening at (http:\/\/127\.0\.0\.1:\d+)/),
    );
    const registered = await fetch(`${issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'alice',
        email: 'alice@example.com',
        password: PASSWORD,
        full_name: 'Alice Liddell',
      }),
    });
    assert.equal(registered.status, 201);

    // The README's command as written, but for the app's port (it must be free to listen on).
    const appPort = await freePort();
    const appUrl = `http://localhost:${appPort}`;
    assert.match(REGISTER, /^npx gatehouse clients add /);
    const added = spawnSync(
      'bash',
      [
        '-euo',
        'pipefail',
        '-c',
        REGISTER.replace(/^npx gatehouse /, `'${process.execPath}' '${BIN}' `).replaceAll(
          'http://localhost:3000/',
          `${appUrl}/`,
        ),
      ],
      { env: { PATH: process.env.PATH ?? '', ...gatehouseEnv }, encoding: 'utf8' },
    );
    assert.equal(added.status, 0, added.stderr);
    const printed = (name: string) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(added.stdout)?.[1] ?? '';
    const [clientId, clientSecret] = [printed('client_id'), printed('client_secret')];
    assert.match(clientId, /^[0-9a-f]{32}$/);
    assert.ok(clientSecret.length >= 43, added.stdout);

    // The README's start line, with the values the command printed and this Gatehouse's URL.
    const { env, script } = startLine();
    assert.equal(script, SCRIPT);
    assert.deepEqual(env, {
      GATEHOUSE_ISSUER: 'http://localhost:8000',
      CLIENT_ID: '<client_id>',
      CLIENT_SECRET: '<client_secret>',
    });
    const app = await start(
      scriptArguments(script),
      {
        GATEHOUSE_ISSUER: issuer,
        CLIENT_ID: clientId,
        CLIENT_SECRET: clientSecret,
        PORT: String(appPort),
      },
      /example app on (http:\/\/localhost:\d+)/,
    );
    running.push(app);
    assert.equal(app.url, appUrl);

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const authorizationRequests: URL[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(`${issuer}/authorize?`))
        authorizationRequests.push(new URL(request.url()));
    });
    const text = async (where: Page) => (await where.locator('main').textContent()) ?? '';

    await page.goto(appUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${issuer}/login?`));
    assert.match(await text(page), /Sign in to continue to Example app/);
    const [authorize] = authorizationRequests;
    assert.ok(authorize, 'the app sent the browser to the authorization endpoint');
    assert.equal(authorize.searchParams.get('client_id'), clientId);
    assert.equal(authorize.searchParams.get('redirect_uri'), `${appUrl}/callback`);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.match(authorize.searchParams.get('code_challenge') ?? '', /^[\w-]{43}$/);
    assert.ok(authorize.searchParams.get('state') && authorize.searchParams.get('nonce'));

    // A callback the app did not ask for (another state) is refused.
    const forged = await page.goto(`${appUrl}/callback?code=forged&state=forged&iss=${issuer}`);
    assert.equal(forged?.status(), 400);
    assert.match(await text(page), /Sign-in failed/);
    await page.goBack();

    await page.getByLabel('Username or email').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${issuer}/authorize?`));
    assert.match(await page.title(), /^Allow Example app\?/);
    await screenshot(page, 'oidc-web-app-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${appUrl}/`);
    assert.match(await text(page), /Signed in as Alice Liddell \(alice@example\.com\)/);
    await screenshot(page, 'oidc-web-app-signed-in');

    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
      end_session_endpoint?: string;
    };
    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    assert.equal(page.url(), `${appUrl}/`);
    assert.doesNotMatch(await text(page), /Signed in/);
    await page.getByRole('link', { name: 'Sign in' }).click();
    if (discovery.end_session_endpoint === undefined) {
      // No RP-initiated logout offered: the app forgot the user but Gatehouse's session stays, so
      // signing in again is single sign-on, without a page of Gatehouse's (consent is remembered).
      await page.getByText('Signed in as Alice Liddell').waitFor();
    } else {
      // RP-initiated logout ended Gatehouse's session too: signing in again asks for the password.
      await page.waitForURL((url) => url.href.startsWith(`${issuer}/login?`));
    }
    await context.close();
  });
});
