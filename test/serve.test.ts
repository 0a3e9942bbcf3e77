import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { FAST_ARGON2, PASSWORD } from './support/gatehouse.ts';
import { eventually } from './support/tcp-proxy.ts';

const BIN = resolve('bin/gatehouse.js');

/** Starts `gatehouse serve` on an OS-chosen port and resolves with its base URL. */
function startServer(
  cwd: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) resolvePromise({ child, url: match[1], output: () => output });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

describe('gatehouse serve over a real socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-serve-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a first start creates the SQLite file and key, reads .env, bootstraps the admin, and SIGTERM drains in-flight requests', async () => {
    writeFileSync(
      join(dir, '.env'),
      [
        'GATEHOUSE_ADMIN_USERNAME=admin',
        'GATEHOUSE_ADMIN_EMAIL=admin@example.com',
        `GATEHOUSE_ADMIN_PASSWORD=${PASSWORD}`,
      ].join('\n'),
    );
    const { child, url, output } = await startServer(dir, FAST_ARGON2);
    assert.ok(existsSync(join(dir, 'data', 'gatehouse.db')), 'the default database lives in ./data');
    const form = new URLSearchParams({ username: 'admin', password: PASSWORD });
    const login = await fetch(`${url}/token`, { method: 'POST', body: form });
    assert.equal(login.status, 200);
    const { access_token } = (await login.json()) as { access_token: string };
    const me = await fetch(`${url}/users/me`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.deepEqual(((await me.json()) as { roles: string[] }).roles, ['admin', 'user']);
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: { alg: string }[] };
    // One access-token key and the OpenID Provider's RS256 ID-token key.
    assert.deepEqual(jwks.keys.map((key) => key.alg).sort(), ['EdDSA', 'RS256']);

    const inFlight = fetch(`${url}/token`, { method: 'POST', body: form });
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
    // Signal once the request is in the server's hands: its log line shows it arrived.
    await new Promise<void>((resolveArrived) => {
      const check = () => {
        if (output().split('url":"/token"').length > 2) {
          child.stdout?.off('data', check);
          resolveArrived();
        }
      };
      child.stdout?.on('data', check);
      check();
    });
    child.kill('SIGTERM');
    const response = await inFlight;
    assert.equal(response.status, 200, 'the in-flight login completes');
    assert.equal(await exited, 0);
    assert.doesNotMatch(output(), new RegExp(PASSWORD));
    assert.doesNotMatch(output(), new RegExp(access_token.split('.')[2] ?? 'x'));

    const again = await startServer(dir, FAST_ARGON2);
    const jwksAgain = (await (await fetch(`${again.url}/.well-known/jwks.json`)).json()) as {
      keys: unknown[];
    };
    assert.deepEqual(jwksAgain.keys, jwks.keys, 'the signing key survives a restart');
    const stopped = new Promise((resolveExit) => again.child.once('exit', resolveExit));
    again.child.kill('SIGTERM');
    assert.equal(await stopped, 0);
  });
});

describe('gatehouse serve sends mail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-serve-mail-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('without SMTP, a registration soon lands in ./data/outbox as an .eml and its link in the log', async () => {
    const { child, url, output } = await startServer(dir, {
      ...FAST_ARGON2,
      GATEHOUSE_PUBLIC_URL: 'http://app.test',
    });
    try {
      assert.match(output(), /no SMTP configured: mail is written to the outbox directory/);
      const registered = await fetch(`${url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', email: 'alice@example.com', password: PASSWORD }),
      });
      assert.equal(registered.status, 201);
      const outbox = join(dir, 'data', 'outbox');
      await eventually(
        async () =>
          existsSync(outbox) && readdirSync(outbox).some((f) => f.endsWith('-alice@example.com.eml')),
        10_000,
        'the worker writes the message',
      );
      await eventually(
        async () => /"link":"http:\/\/app\.test\/verify-email\?token=[A-Za-z0-9_-]{43}"/.test(output()),
        5_000,
        'the link is logged',
      );
    } finally {
      const stopped = new Promise((resolveExit) => child.once('exit', resolveExit));
      child.kill('SIGTERM');
      assert.equal(await stopped, 0);
    }
  });
});
