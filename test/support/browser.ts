/** Debian's Chromium for the page tests, screenshots under test/artifacts/, and layout checks. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { createTestApp, type TestApp } from './gatehouse.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
/** No sandbox (root in CI), nothing fetched in the background, a first run without prompts. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
] as const;
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

/** A port the OS picks; a passkey's origin (the server's public URL) must name it before listening. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A Gatehouse listening on `http://localhost:<port>`, its public URL and issuer: the origin a
 * browser accepts for passkeys (never an IP address).
 */
export async function listeningAtLocalhost(
  env: Record<string, string> = {},
): Promise<{ t: TestApp; base: string }> {
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const t = await createTestApp({ env: { GATEHOUSE_PUBLIC_URL: base, GATEHOUSE_ISSUER: base, ...env } });
  await t.app.listen({ host: '127.0.0.1', port });
  return { t, base };
}

/** Chromium's virtual authenticator (CDP WebAuthn domain): a platform passkey that verifies the user. */
export async function addVirtualAuthenticator(
  page: Page,
): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/**
 * A page with JavaScript and a virtual authenticator, in a browser without conditional UI: the
 * virtual authenticator would answer the login page's autofill request at once, before any button.
 */
export async function passkeyPage(browser: Browser, base: string) {
  const { context, problems } = await newWatchedContext(browser, base, {
    javaScriptEnabled: true,
    viewport: DESKTOP,
  });
  await context.addInitScript('PublicKeyCredential.isConditionalMediationAvailable = async () => false;');
  const page = await context.newPage();
  return { context, problems, page, ...(await addVirtualAuthenticator(page)) };
}

export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
}

/**
 * A context as a person without JavaScript has it; a page's every CSP complaint and every request
 * that leaves the server under test is collected in `problems`.
 */
export async function newWatchedContext(
  browser: Browser,
  base: string,
  options: { javaScriptEnabled: boolean; viewport: { width: number; height: number } },
): Promise<{ context: BrowserContext; problems: string[] }> {
  const context = await browser.newContext({
    ...options,
    ...(options.viewport === PHONE ? { isMobile: true, hasTouch: true } : {}),
  });
  const problems: string[] = [];
  context.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  context.on('request', (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith('data:'))
      problems.push(`external request ${request.url()}`);
  });
  return { context, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });
}

/**
 * At a phone's width: nothing scrolls sideways, every input and button is a comfortable tap
 * target (44 CSS px, WCAG 2.5.5), every input has a label, and the stylesheet applied.
 */
export async function checkPhoneLayout(page: Page, where: string): Promise<void> {
  // A string, evaluated in the page: this project's TypeScript has no DOM types.
  const layout = (await page.evaluate(`(() => {
    const controls = [...document.querySelectorAll('input:not([type=hidden]), button')];
    return {
      scrollWidth: document.scrollingElement.scrollWidth,
      innerWidth: window.innerWidth,
      small: controls
        .map((el) => ({ name: el.getAttribute('name') || el.textContent.trim(), height: el.getBoundingClientRect().height }))
        .filter((c) => c.height < 44),
      unlabelled: [...document.querySelectorAll('input:not([type=hidden])')]
        .filter((input) => input.labels.length === 0)
        .map((input) => input.name),
      styled: getComputedStyle(document.body).backgroundColor !== 'rgba(0, 0, 0, 0)',
    };
  })()`)) as {
    scrollWidth: number;
    innerWidth: number;
    small: { name: string; height: number }[];
    unlabelled: string[];
    styled: boolean;
  };
  assert.ok(
    layout.scrollWidth <= layout.innerWidth,
    `${where}: ${layout.scrollWidth}px wide in a ${layout.innerWidth}px screen`,
  );
  assert.deepEqual(layout.small, [], `${where}: tap targets under 44px`);
  assert.deepEqual(layout.unlabelled, [], `${where}: inputs without a label`);
  assert.ok(layout.styled, `${where}: the stylesheet applied under the CSP`);
}
