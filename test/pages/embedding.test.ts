/**
 * The pages belong to the plugin: an app embedding Gatehouse gets them with the same strict
 * headers (no helmet needed), and an app with pages of its own turns them off with `pages: false`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Fastify from 'fastify';
import { gatehouse } from '../../src/index.ts';
import { registerUser } from '../support/gatehouse.ts';
import { browserFormHeaders, form } from './form-client.ts';

// The embedded plugin starts the mail worker: its mail goes to a temporary outbox.
const outboxDir = mkdtempSync(join(tmpdir(), 'gatehouse-outbox-'));
after(() => rmSync(outboxDir, { recursive: true, force: true }));

const OPTIONS = {
  outboxDir,
  databaseUrl: 'sqlite::memory:',
  issuer: 'https://api.example.com',
  argon2MemoryKib: 1024,
  argon2Iterations: 1,
  logLevel: 'silent',
} as const;

test('an embedding app serves the pages with their CSP, and its form posts are answered with pages', async () => {
  const app = Fastify();
  try {
    await app.register(gatehouse, OPTIONS);
    await app.ready();
    const login = await app.inject({ method: 'GET', url: '/login' });
    assert.equal(login.statusCode, 200);
    assert.match(String(login.headers['content-security-policy']), /^default-src 'none'/);
    await registerUser(app, 'alice');
    const wrong = await app.inject({
      method: 'POST',
      url: '/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: 'not it at all' }),
    });
    assert.equal(wrong.statusCode, 401);
    assert.match(wrong.body, /id="password-error"/);
  } finally {
    await app.close();
  }
});

test('pages: false leaves the embedding app without them and POST /login answering JSON', async () => {
  const app = Fastify();
  try {
    await app.register(gatehouse, { ...OPTIONS, pages: false });
    await app.ready();
    assert.equal((await app.inject({ method: 'GET', url: '/login' })).statusCode, 404);
    await registerUser(app, 'alice');
    const login = await app.inject({
      method: 'POST',
      url: '/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: 'correct horse battery staple' }),
    });
    assert.equal(login.statusCode, 200);
    assert.equal(login.json().username, 'alice');
  } finally {
    await app.close();
  }
});
