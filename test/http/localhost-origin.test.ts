/**
 * Passkeys need a domain origin: a fresh `gatehouse serve` is at http://localhost:<port> (issuer and
 * public URL), listens on every loopback address localhost names (here a machine that lists ::1
 * first, see support/localhost-ipv6-first.ts), and sends a browser that opens a page at 127.0.0.1
 * or [::1] to the same page on localhost. API requests are answered wherever they arrive.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasChromium, launchChromium } from '../support/browser.ts';
import { FAST_ARGON2 } from '../support/gatehouse.ts';
import { freePort, type Running, start } from '../support/process.ts';

const BIN = resolve('bin/gatehouse.js');
const IPV6_FIRST = resolve('test/support/localhost-ipv6-first.ts');
/** What Chromium sends when it opens a page. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8';

describe('a fresh gatehouse serve is at http://localhost', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-localhost-'));
  let server: Running;
  let port: number;
  before(async () => {
    port = await freePort();
    server = await start(
      ['--import', IPV6_FIRST, BIN, 'serve'],
      {
        GATEHOUSE_PORT: String(port),
        GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
        ...FAST_ARGON2,
      },
      /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
    );
  });

  test('a port taken on 127.0.0.1 alone (here the second address of localhost) stops the start with exit 69, not a server on half of localhost', async () => {
    const busy = createServer();
    await new Promise<void>((resolveListen) => busy.listen(0, '127.0.0.1', resolveListen));
    try {
      const taken = (busy.address() as { port: number }).port;
      const result = spawnSync(process.execPath, ['--import', IPV6_FIRST, BIN, 'serve'], {
        env: {
          PATH: process.env.PATH ?? '',
          GATEHOUSE_PORT: String(taken),
          GATEHOUSE_DATABASE_URL: 'sqlite::memory:',
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(result.status, 69, result.stderr);
      assert.match(result.stderr, new RegExp(`port ${taken} on localhost is already in use`));
    } finally {
      busy.close();
    }
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (host: string, path: string, accept = BROWSER_ACCEPT, method = 'GET') =>
    fetch(`http://${host}:${port}${path}`, { method, headers: { accept }, redirect: 'manual' });

  test('it listens on ::1 and 127.0.0.1, and names http://localhost:<port> as its issuer', async () => {
    for (const host of ['[::1]', '127.0.0.1']) {
      assert.equal((await get(host, '/healthz', 'application/json')).status, 200, host);
    }
    const metadata = await (await get('127.0.0.1', '/.well-known/oauth-authorization-server', '*/*')).json();
    assert.equal((metadata as { issuer: string }).issuer, `http://localhost:${port}`);
  });

  test('a browser opening a page at 127.0.0.1 or [::1] is sent to the same path and query on localhost', async () => {
    for (const host of ['127.0.0.1', '[::1]']) {
      for (const [path, method] of [
        ['/login?return_to=%2Faccount', 'GET'],
        ['/register', 'HEAD'],
        ['/account', 'GET'],
        ['/docs', 'GET'],
      ] as const) {
        const response = await get(host, path, BROWSER_ACCEPT, method);
        assert.equal(response.status, 307, `${method} ${host}${path}`);
        assert.equal(response.headers.get('location'), `http://localhost:${port}${path}`);
      }
    }
    const there = await get('localhost', '/login');
    assert.equal(there.status, 200, 'no redirect once on localhost');
  });

  test('a page asked for at a loopback address on another port (another server, or a proxy) is answered where it is', async () => {
    const status = await new Promise<number | undefined>((resolveStatus, reject) => {
      const request = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/login',
          headers: { host: '127.0.0.1:3000', accept: BROWSER_ACCEPT },
        },
        (response) => {
          response.resume();
          resolveStatus(response.statusCode);
        },
      );
      request.once('error', reject);
      request.end();
    });
    assert.equal(status, 200);
  });

  test('API requests are never redirected: curl, JSON, posts, /token, /.well-known, /healthz', async () => {
    const curl = await get('127.0.0.1', '/login', '*/*');
    assert.equal(curl.status, 200, 'curl (Accept: */*) gets the page where it asked');
    for (const path of [
      '/.well-known/jwks.json',
      '/.well-known/oauth-authorization-server',
      '/healthz',
      '/',
    ]) {
      assert.equal((await get('127.0.0.1', path)).status, 200, path);
    }
    assert.equal((await get('127.0.0.1', '/users/me')).status, 401);
    assert.equal((await get('127.0.0.1', '/login', 'application/json')).status, 200);
    const token = await fetch(`http://127.0.0.1:${port}/token`, {
      method: 'POST',
      headers: { accept: BROWSER_ACCEPT, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=nobody&password=wrong%20password',
      redirect: 'manual',
    });
    assert.equal(token.status, 401);
    const login = await fetch(`http://127.0.0.1:${port}/login`, {
      method: 'POST',
      headers: { accept: BROWSER_ACCEPT, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=nobody&password=wrong%20password',
      redirect: 'manual',
    });
    assert.notEqual(login.status, 307, 'a form post is answered where it arrives');
  });

  test('Chromium opening http://127.0.0.1:<port>/login lands on localhost, a secure context with WebAuthn', {
    skip: hasChromium ? false : 'needs /usr/bin/chromium',
  }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/login?return_to=%2Faccount`);
      assert.equal(page.url(), `http://localhost:${port}/login?return_to=%2Faccount`);
      const seen = await page.evaluate(
        '({ origin: location.origin, secure: isSecureContext, webauthn: typeof PublicKeyCredential })',
      );
      assert.deepEqual(seen, { origin: `http://localhost:${port}`, secure: true, webauthn: 'function' });
    } finally {
      await browser.close();
    }
  });
});
