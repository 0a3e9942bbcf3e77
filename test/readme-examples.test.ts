/**
 * The README's plugin and verifier examples, and the TypeScript examples of docs/, run as written
 * (only the port, the database path and the issuer's URL changed; a fragment gets the few lines
 * that make it a program) as their own processes from a directory inside the repository, so
 * `gatehouse` and `@gatehouse/verify` resolve as in an app (to src/, under `gatehouse-source`).
 * scripts/packaging-test.ts runs the README's plugin example again from an installed tarball.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { operatorActor } from '../src/auth/privilege-ceiling.ts';
import { codeBlock, codeBlocks } from './support/doc-blocks.ts';
import { createTestApp, login, registerUser, type TestApp } from './support/gatehouse.ts';
import { freePort } from './support/process.ts';
import { eventually } from './support/tcp-proxy.ts';

const PLUGIN = codeBlock('README.md', '## The Fastify plugin', 'ts');
const VERIFIER = codeBlock('README.md', '## The verifier', 'js');
const STANDALONE = codeBlock('README.md', '## The standalone server', 'sh');
const LIBRARY = codeBlocks('docs/library.md');
const [PLUGIN_IN_FULL, OWN_GATEHOUSE] = LIBRARY.filter(
  (block) => block.heading === '## Embedded in your Fastify API' && block.lang === 'ts',
).map((block) => block.code);
const VERIFIER_IN_FULL = codeBlock('docs/library.md', '## Verifying tokens in another service', 'ts');
const GUARDS = codeBlock('docs/authorization.md', '## Protecting your own routes', 'ts');

describe('README and docs examples', () => {
  mkdirSync('test/artifacts', { recursive: true });
  const dir = resolve(mkdtempSync(join('test/artifacts', 'readme-examples-')));
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children) child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes `code` into the directory and runs it with Node, as `node app.js` would. */
  async function run(name: string, code: string, readyUrl: string, env: Record<string, string> = {}) {
    const file = join(dir, name);
    writeFileSync(file, code);
    const child = spawn(process.execPath, ['--conditions=gatehouse-source', file], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    await eventually(
      async () => (await fetch(readyUrl).catch(() => undefined)) !== undefined,
      30_000,
      `${name} listening`,
    );
  }

  test('README, the standalone server: create-admin, then serve; the admin signs in', async () => {
    const [install, ...commands] = STANDALONE.trim().split('\n');
    assert.equal(install, 'npm install gatehouse'); // what scripts/packaging-test.ts does with the tarball
    const port = await freePort();
    const gatehouseBin = `'${process.execPath}' --conditions=gatehouse-source '${resolve('bin/gatehouse.js')}'`;
    const script = commands
      .map((line) => line.replaceAll('npx gatehouse', gatehouseBin).replace('--port 8000', `--port ${port}`))
      .join('\n');
    const shell = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true,
    });
    const base = `http://127.0.0.1:${port}`;
    try {
      await eventually(
        async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200,
        60_000,
        'gatehouse serve from the README listening',
      );
      const token = await fetch(`${base}/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'root', password: 'correct horse battery' }),
      });
      assert.equal(token.status, 200);
      const { access_token } = (await token.json()) as { access_token: string };
      const me = await fetch(`${base}/users/me`, { headers: { authorization: `Bearer ${access_token}` } });
      assert.ok(((await me.json()) as { roles: string[] }).roles.includes('admin'));
    } finally {
      if (shell.pid !== undefined && shell.exitCode === null) process.kill(-shell.pid, 'SIGTERM');
    }
  });

  /** Registers `username` on `base` and logs in with the password flow. */
  async function tokenFor(base: string, username: string): Promise<string> {
    const registered = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'correct horse battery' }),
    });
    assert.equal(registered.status, 201);
    const token = await fetch(`${base}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username, password: 'correct horse battery' }),
    });
    assert.equal(token.status, 200);
    return ((await token.json()) as { access_token: string }).access_token;
  }

  /** A server of the plugin on a free port: the example's own `listen` replaced, or one appended. */
  async function serveExample(name: string, code: string, env: Record<string, string> = {}) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const listen = `app.listen({ host: '127.0.0.1', port: ${port} })`;
    const program = /app\.listen\(\{ port: 3000 \}\)/.test(code)
      ? code.replace('app.listen({ port: 3000 })', listen)
      : `${code}\nawait ${listen};\n`;
    await run(
      name,
      program
        .replace('sqlite:./data/app.db', `sqlite:${join(dir, `${name}.db`)}`)
        .replace(/'https?:\/\/(?:api\.example\.com|127\.0\.0\.1:3000)'/, `'${base}'`),
      `${base}/.well-known/jwks.json`,
      env,
    );
    return base;
  }

  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  function assertInsufficientScope(response: Response, scope: string): void {
    assert.equal(response.status, 403);
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer error="insufficient_scope", scope="${scope}"`,
    );
  }

  test('docs/library.md, the plugin in full: /items needs the items:read scope', async () => {
    const base = await serveExample('library-plugin.mjs', PLUGIN_IN_FULL ?? '');
    assert.equal((await fetch(`${base}/items`)).status, 401);
    const alice = await tokenFor(base, 'alice');
    const refused = await fetch(`${base}/items`, bearer(alice));
    assertInsufficientScope(refused, 'items:read');
  });

  test('docs/library.md, building Gatehouse yourself: loadConfig reads GATEHOUSE_* and the plugin serves it', async () => {
    const base = await serveExample(
      'library-own.mjs',
      `import Fastify from 'fastify';\nconst app = Fastify();\n${OWN_GATEHOUSE ?? ''}`,
      { GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'own.db')}`, GATEHOUSE_APP_NAME: 'Own' },
    );
    const alice = await tokenFor(base, 'alice');
    const me = await fetch(`${base}/users/me`, bearer(alice));
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { username: string }).username, 'alice');
  });

  test('docs/authorization.md, guards on your own routes: refusals as the server answers them', async () => {
    const base = await serveExample(
      'guards.mjs',
      `import Fastify from 'fastify';\nimport { gatehouse } from 'gatehouse';\nconst app = Fastify();\n` +
        `await app.register(gatehouse, { databaseUrl: 'sqlite:./data/app.db' });\n${GUARDS}`,
    );
    assert.deepEqual(await (await fetch(`${base}/reports`)).json(), { detail: 'Not authenticated' });
    const alice = await tokenFor(base, 'alice');
    const reports = await fetch(`${base}/reports`, bearer(alice));
    assertInsufficientScope(reports, 'reports:read');
    assert.equal((await fetch(`${base}/pro/feature`, bearer(alice))).status, 403);
    const remove = await fetch(`${base}/items/1`, { method: 'DELETE', ...bearer(alice) });
    assert.equal(remove.status, 403);
    assert.deepEqual(await remove.json(), { detail: 'Not enough permissions' });
  });

  test('the plugin example: /items is 401 without a token, and names the user with one', async () => {
    assert.match(PLUGIN, /app\.listen\(\{ port: 3000 \}\)/);
    const base = await serveExample('plugin.mjs', PLUGIN);

    const anonymous = await fetch(`${base}/items`);
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await anonymous.json(), { detail: 'Not authenticated' });
    const access_token = await tokenFor(base, 'alice');
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
      assert.ok(VERIFIER.includes("'http://localhost:8000'") && VERIFIER.includes('port: 3001'));
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
        VERIFIER.replace("'http://localhost:8000'", `'${issuer}'`).replace(
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

    test('docs/library.md, the verifier in full: the same guard, and principal() is null without a token', async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}/reports`;
      const program =
        'const req = { headers: {} };\n' +
        VERIFIER_IN_FULL.replace("'http://localhost:8000'", `'${issuer}'`) +
        `if (principal !== null) throw new Error('a principal without a token');\n` +
        `await app.listen({ host: '127.0.0.1', port: ${port} });\n`;
      await run('library-verifier.mjs', program, url);
      assert.equal((await fetch(url)).status, 401);
      const bobToken = await login(t.app, 'bob');
      const scoped = await fetch(url, { headers: { authorization: `Bearer ${bobToken}` } });
      assert.deepEqual(await scoped.json(), { for: 'bob' });
    });
  });
});
