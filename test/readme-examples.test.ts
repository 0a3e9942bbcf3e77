/**
 * The README's plugin and verifier examples, run as written (only the port, the database path and
 * the issuer's URL changed) as their own processes from a directory inside the repository, so
 * `gatehouse` and `@gatehouse/verify` resolve as in an app (to src/, under `gatehouse-source`).
 * scripts/packaging-test.ts runs the plugin example again from an installed tarball.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { operatorActor } from '../src/auth/privilege-ceiling.ts';
import { codeBlock } from './support/doc-blocks.ts';
import { createTestApp, login, registerUser, type TestApp } from './support/gatehouse.ts';
import { freePort } from './support/process.ts';
import { eventually } from './support/tcp-proxy.ts';

const PLUGIN = codeBlock('README.md', '## The Fastify plugin', 'ts');
const VERIFIER = codeBlock('README.md', '## The verifier', 'js');

describe('README examples', () => {
  mkdirSync('test/artifacts', { recursive: true });
  const dir = resolve(mkdtempSync(join('test/artifacts', 'readme-examples-')));
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes `code` into the directory and runs it with Node, as `node app.js` would. */
  async function run(name: string, code: string, readyUrl: string): Promise<void> {
    const file = join(dir, name);
    writeFileSync(file, code);
    const child = spawn(process.execPath, ['--conditions=gatehouse-source', file], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    await eventually(
      async () => (await fetch(readyUrl).catch(() => undefined)) !== undefined,
      30_000,
      `${name} listening`,
    );
  }

  test('the plugin example: /items is 401 without a token, and names the user with one', async () => {
    assert.match(PLUGIN, /app\.listen\(\{ port: 3000 \}\)/);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    await run(
      'plugin.mjs',
      PLUGIN.replace('app.listen({ port: 3000 })', `app.listen({ host: '127.0.0.1', port: ${port} })`)
        .replace('sqlite:./data/app.db', `sqlite:${join(dir, 'app.db')}`)
        .replace('http://127.0.0.1:3000', base),
      `${base}/healthz`,
    );

    const anonymous = await fetch(`${base}/items`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await anonymous.json(), { detail: 'Not authenticated' });
    const registered = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'alice',
        email: 'alice@example.com',
        password: 'correct horse battery',
      }),
    });
    assert.equal(registered.status, 201);
    const token = await fetch(`${base}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'alice', password: 'correct horse battery' }),
    });
    assert.equal(token.status, 200);
    const { access_token } = (await token.json()) as { access_token: string };
    const items = await fetch(`${base}/items`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(items.status, 200);
    assert.deepEqual(await items.json(), { owner: 'alice' });
  });

  describe('the verifier example, against a real Gatehouse', () => {
    let t: TestApp;
    let issuer: string;
    before(async () => {
      const port = await freePort();
      issuer = `http://127.0.0.1:${port}`;
      t = await createTestApp({ env: { GATEHOUSE_ISSUER: issuer } });
      await t.app.listen({ host: '127.0.0.1', port });
    });
    after(() => t?.close());

    test('/reports: 401 without a token or with a forged one, 403 without the scope, 200 with it', async () => {
      assert.ok(VERIFIER.includes("'http://127.0.0.1:8000'") && VERIFIER.includes('port: 3001'));
      await registerUser(t.app, 'alice');
      const bob = await registerUser(t.app, 'bob');
      await t.gatehouse.roles.createRole(operatorActor(), 'reporter', 'Reads reports', ['reports:read']);
      await t.gatehouse.accounts.setRoles(bob.id, ['user', 'reporter']);
      const alice = await login(t.app, 'alice');
      const bobToken = await login(t.app, 'bob');

      const port = await freePort();
      const url = `http://127.0.0.1:${port}/reports`;
      await run(
        'verifier.mjs',
        VERIFIER.replace("'http://127.0.0.1:8000'", `'${issuer}'`).replace(
          'port: 3001',
          `host: '127.0.0.1', port: ${port}`,
        ),
        url,
      );
      const get = (token?: string) =>
        fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});

      const none = await get();
      assert.equal(none.status, 401);
      assert.deepEqual(await none.json(), { detail: 'Not authenticated' });
      const forged = await get(`${bobToken.slice(0, -4)}AAAA`);
      assert.equal(forged.status, 401);
      assert.equal(forged.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      const unscoped = await get(alice);
      assert.equal(unscoped.status, 403);
      assert.equal(
        unscoped.headers.get('www-authenticate'),
        'Bearer error="insufficient_scope", scope="reports:read"',
      );
      const scoped = await get(bobToken);
      assert.equal(scoped.status, 200);
      assert.deepEqual(await scoped.json(), { for: 'bob' });
    });
  });
});
