/**
 * packages/verify/README.md's examples, run as written: each is started as its own process with
 * the issuer and port this test got, and answers a real Gatehouse's tokens.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { createTestApp, login, registerUser, type TestApp } from '../support/gatehouse.ts';
import { freePort } from '../support/process.ts';
import { eventually } from '../support/tcp-proxy.ts';

const README = readFileSync('packages/verify/README.md', 'utf8');
const EXAMPLES = [...README.matchAll(/\n## ([^\n]+)\n[\s\S]*?```js\n([\s\S]*?)```/g)].map(
  ([, heading, code]) => ({
    heading: heading ?? '',
    code: code ?? '',
  }),
);
const SOURCE = (entry: string) => pathToFileURL(resolve('packages/verify/src', `${entry}.ts`)).href;

describe('packages/verify/README.md examples', () => {
  let t: TestApp;
  let issuer: string;
  const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };
  mkdirSync('test/artifacts', { recursive: true });
  const dir = mkdtempSync(join('test/artifacts', 'verify-readme-'));
  const children: ChildProcess[] = [];
  before(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    t = await createTestApp({ env: { GATEHOUSE_ISSUER: issuer } });
    await t.app.listen({ host: '127.0.0.1', port });
    await registerUser(t.app, 'alice');
    const bob = await registerUser(t.app, 'bob');
    await t.gatehouse.roles.createRole(operatorActor(), 'reporter', 'Reads reports', ['reports:read']);
    await t.gatehouse.accounts.setRoles(bob.id, ['user', 'reporter']);
    tokens.alice = await login(t.app, 'alice');
    tokens.bob = await login(t.app, 'bob');
  });
  after(async () => {
    for (const child of children) child.kill('SIGTERM');
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the README has an example for Fastify, Express, Hono and verifyRequest', () => {
    assert.deepEqual(
      EXAMPLES.map((example) => example.heading),
      ['Fastify', 'Express', 'Hono', 'Any other framework: `verifyRequest(headers)`'],
    );
  });

  for (const [index, example] of EXAMPLES.entries()) {
    test(`${example.heading}: the example refuses as the server does and lets a scoped token through`, async () => {
      const port = await freePort();
      const code = example.code
        .replace(
          /'@gatehouse\/verify(?:\/(\w+))?'/g,
          (_, entry: string | undefined) => `'${SOURCE(entry ?? 'index')}'`,
        )
        .replaceAll('https://auth.example.com', issuer)
        .replaceAll('3000', String(port));
      const file = join(dir, `example-${index}.mjs`);
      writeFileSync(file, code);
      const child = spawn(process.execPath, [file], { stdio: ['ignore', 'inherit', 'inherit'] });
      children.push(child);
      const url = `http://127.0.0.1:${port}/reports`;
      const get = (token?: string) =>
        fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      await eventually(
        async () => (await get().catch(() => undefined)) !== undefined,
        30_000,
        `${example.heading} example listening`,
      );

      const none = await get();
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      assert.deepEqual(await none.json(), { detail: 'Not authenticated' });
      const unscoped = await get(tokens.alice);
      assert.equal(unscoped.status, 403);
      assert.equal(
        unscoped.headers.get('www-authenticate'),
        'Bearer error="insufficient_scope", scope="reports:read"',
      );
      assert.deepEqual(await unscoped.json(), { detail: 'Not enough permissions' });
      const forged = await get(`${tokens.bob.slice(0, -4)}AAAA`);
      assert.equal(forged.status, 401);
      assert.equal(forged.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      const scoped = await get(tokens.bob);
      assert.equal(scoped.status, 200);
      assert.deepEqual(await scoped.json(), { for: 'bob' });
      child.kill('SIGTERM');
    });
  }
});
