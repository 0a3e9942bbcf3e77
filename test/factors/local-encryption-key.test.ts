/**
 * A fresh `gatehouse serve` on its default SQLite database and no GATEHOUSE_ENCRYPTION_KEY makes
 * a key file beside the database (owner-only, never logged) and uses it: an authenticator app can
 * be enrolled and signs in, and after a restart the same key reads the stored secret. On
 * PostgreSQL no file is made: authenticator apps stay unavailable until the key is set.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { encryptionKeyNotice, withLocalEncryptionKey } from '../../src/cli/local-encryption-key.ts';
import { FAST_ARGON2, PASSWORD, TEST_DATABASE_URL } from '../support/gatehouse.ts';
import { type Running, start } from '../support/process.ts';
import { STEP_MS } from './support.ts';

const BIN = resolve('bin/gatehouse.js');
const LISTENING = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/;

async function call(
  url: string,
  path: string,
  init: { form?: Record<string, string>; json?: unknown; token?: string },
) {
  const headers: Record<string, string> = init.token ? { authorization: `Bearer ${init.token}` } : {};
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  } else if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const response = await fetch(`${url}${path}`, { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The password step, then the code of the step `offsetMs` from now: the access token. */
async function signInWithCode(url: string, secret: string, offsetMs: number): Promise<string> {
  const first = await call(url, '/token', { form: { username: 'alice', password: PASSWORD } });
  assert.equal(first.status, 403, JSON.stringify(first.body));
  assert.equal(first.body.error, 'mfa_required');
  const second = await call(url, '/token', {
    form: {
      grant_type: 'urn:gatehouse:grant-type:mfa-otp',
      mfa_token: String(first.body.mfa_token),
      otp: totpCode(secret, Date.now() + offsetMs),
    },
  });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  return String(second.body.access_token);
}

describe('a fresh gatehouse serve without GATEHOUSE_ENCRYPTION_KEY', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-fresh-key-'));
  const running: Running[] = [];
  after(async () => {
    await Promise.all(running.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
  const serve = async () => {
    const server = await start([BIN, 'serve'], { GATEHOUSE_PORT: '0', ...FAST_ARGON2 }, LISTENING, dir);
    running.push(server);
    return server;
  };

  test('makes ./data/encryption.key (0600, not logged); an authenticator app enrols and signs in, and still does after a restart', async () => {
    const first = await serve();
    const keyFile = join(dir, 'data', 'encryption.key');
    assert.ok(existsSync(keyFile), 'the key lives beside the default database');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'readable by its owner only');
    const key = readFileSync(keyFile, 'utf8');
    assert.match(key, /^[0-9a-f]{64}\n$/);
    assert.deepEqual(
      readdirSync(join(dir, 'data')).filter((name) => name.includes('encryption')),
      ['encryption.key'],
      'no temporary file is left behind',
    );
    assert.match(
      first.output,
      /created the encryption key in data\/encryption\.key.*set GATEHOUSE_ENCRYPTION_KEY/,
    );
    assert.ok(!first.output.includes(key.trim()), 'the key is never logged');

    const registered = await call(first.url, '/register', {
      json: { username: 'alice', email: 'alice@example.com', password: PASSWORD },
    });
    assert.equal(registered.status, 201);
    const password = await call(first.url, '/token', { form: { username: 'alice', password: PASSWORD } });
    const token = String(password.body.access_token);
    const enrolled = await call(first.url, '/users/me/factors/totp', { json: { name: 'Phone' }, token });
    assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
    const secret = String(enrolled.body.secret);
    // A code of the step before now (drift allowed), so every later step is still ahead.
    const confirmed = await call(first.url, `/users/me/factors/totp/${enrolled.body.id}/confirm`, {
      json: { code: totpCode(secret, Date.now() - STEP_MS) },
      token,
    });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    await signInWithCode(first.url, secret, 0);
    await first.stop();

    const again = await serve();
    assert.match(again.output, /using the encryption key in data\/encryption\.key/);
    assert.equal(readFileSync(keyFile, 'utf8'), key, 'the same key, not a new one');
    // The server started (it refuses to when no key reads a stored secret) and the app verifies.
    await signInWithCode(again.url, secret, STEP_MS);
  });
});

describe('gatehouse serve on PostgreSQL without GATEHOUSE_ENCRYPTION_KEY', {
  skip: TEST_DATABASE_URL ? false : 'needs GATEHOUSE_TEST_DATABASE_URL',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-key-'));
  const database = `gh_key_${randomBytes(6).toString('hex')}`;
  const adminUrl = TEST_DATABASE_URL ?? '';
  let server: Running | undefined;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(sql);
    await client.end();
  };
  after(async () => {
    await server?.stop();
    await admin(`drop database if exists ${database} with (force)`);
    rmSync(dir, { recursive: true, force: true });
  });

  test('makes no key file (processes elsewhere could not share it): it says so at start, and adding an app is 503 MFA_UNAVAILABLE', async () => {
    await admin(`create database ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    server = await start(
      [BIN, 'serve'],
      { GATEHOUSE_PORT: '0', GATEHOUSE_DATABASE_URL: url.toString(), ...FAST_ARGON2 },
      LISTENING,
      dir,
    );
    assert.match(server.output, /GATEHOUSE_ENCRYPTION_KEY is unset: authenticator apps cannot be added/);
    await call(server.url, '/register', {
      json: { username: 'alice', email: 'alice@example.com', password: PASSWORD },
    });
    const password = await call(server.url, '/token', { form: { username: 'alice', password: PASSWORD } });
    const token = String(password.body.access_token);
    const enrolled = await call(server.url, '/users/me/factors/totp', { json: {}, token });
    assert.equal(enrolled.status, 503);
    assert.equal(enrolled.body.code, 'MFA_UNAVAILABLE');
    assert.deepEqual(readdirSync(dir), [], 'nothing written beside the server');
  });
});

describe('which commands and databases get a key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-key-rule-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const base = { encryptionKeys: [] as readonly string[] };

  test('PostgreSQL, sqlite::memory: and a configured key get none; commands other than serve only read an existing one', () => {
    for (const databaseUrl of ['postgres://db.example/gatehouse', 'sqlite::memory:']) {
      assert.equal(withLocalEncryptionKey({ ...base, databaseUrl }, true).localKey, undefined, databaseUrl);
    }
    const databaseUrl = `sqlite:${join(dir, 'gatehouse.db')}`;
    const configured = { databaseUrl, encryptionKeys: ['f'.repeat(64)] };
    assert.equal(withLocalEncryptionKey(configured, true).config, configured);
    assert.equal(withLocalEncryptionKey({ ...base, databaseUrl }, false).localKey, undefined);
    assert.ok(!existsSync(join(dir, 'encryption.key')), 'a reading command makes no file');
    const made = withLocalEncryptionKey({ ...base, databaseUrl }, true);
    assert.equal(made.localKey?.created, true);
    assert.deepEqual(made.config.encryptionKeys, [made.localKey?.key]);
    const read = withLocalEncryptionKey({ ...base, databaseUrl }, false);
    assert.equal(read.localKey?.key, made.localKey?.key);
    assert.equal(read.localKey?.created, false);
  });

  test('serve says at start when authenticator apps are unavailable (no key, no key file), and nothing when a key is set', () => {
    assert.match(
      encryptionKeyNotice([], undefined) ?? '',
      /GATEHOUSE_ENCRYPTION_KEY is unset.*503 MFA_UNAVAILABLE/,
    );
    assert.equal(encryptionKeyNotice(['f'.repeat(64)], undefined), undefined);
  });
});
