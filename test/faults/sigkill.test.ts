/**
 * `gatehouse serve` killed with SIGKILL in the middle of registrations and logins, then started
 * again on the same database: every registration that was answered 201 is there with a working
 * password, and no write is left half-done.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { DATABASES, FAST_ARGON2, NO_RATE_LIMITS, PASSWORD, TEST_DATABASE_URL } from '../support/gatehouse.ts';

const BIN = resolve('bin/gatehouse.js');
const WORKERS = 8;
const ANSWERED_BEFORE_KILL = 40;

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
}

function serve(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolveStart, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        output = '';
        resolveStart({ child, url: match[1] });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) resolveExit();
    else child.once('exit', () => resolveExit());
  });

async function register(url: string, username: string): Promise<number> {
  const response = await fetch(`${url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, email: `${username}@example.com`, password: PASSWORD }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function tokenStatus(url: string, username: string): Promise<number> {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ username, password: PASSWORD }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Counts of rows that would show a write left half-done; all must be zero. */
const HALF_WRITTEN: Record<string, string> = {
  'users without a password hash': `select count(*) as n from users where password_hash is null or password_hash not like '$argon2id$%'`,
  'users without a role': `select count(*) as n from users u where not exists (select 1 from user_roles r where r.user_id = u.id)`,
  'roles of no user': `select count(*) as n from user_roles r where not exists (select 1 from users u where u.id = r.user_id)`,
  'token sessions without a refresh token': `select count(*) as n from sessions s where s.kind = 'token' and not exists (select 1 from refresh_tokens t where t.session_id = s.id)`,
  'token sessions without their login event': `select count(*) as n from sessions s where s.kind = 'token' and not exists (select 1 from audit_events a where a.session_id = s.id and a.event = 'login.succeeded')`,
  'login events without their session': `select count(*) as n from audit_events a where a.event = 'login.succeeded' and not exists (select 1 from sessions s where s.id = a.session_id)`,
  'refresh tokens of no session': `select count(*) as n from refresh_tokens t where not exists (select 1 from sessions s where s.id = t.session_id)`,
};

for (const database of DATABASES) {
  describe(`SIGKILL under a write load (${database.name})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kill-'));
    const pgDatabase = `gh_kill_${randomBytes(6).toString('hex')}`;
    let databaseUrl = '';
    let count: (query: string) => Promise<number>;
    let closeCounter = async () => {};

    before(async () => {
      if (database.name === 'sqlite') {
        databaseUrl = `sqlite:${join(dir, 'gatehouse.db')}`;
      } else {
        const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await admin.connect();
        await admin.query(`create database ${pgDatabase}`);
        await admin.end();
        const url = new URL(TEST_DATABASE_URL ?? '');
        url.pathname = `/${pgDatabase}`;
        databaseUrl = url.toString();
      }
    });

    after(async () => {
      await closeCounter();
      rmSync(dir, { recursive: true, force: true });
      if (database.name === 'postgres') {
        const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await admin.connect();
        await admin.query(`drop database if exists ${pgDatabase} with (force)`);
        await admin.end();
      }
    });

    test('every user answered 201 before the kill logs in after a restart, and nothing is half-written', async () => {
      const env = {
        GATEHOUSE_DATABASE_URL: databaseUrl,
        GATEHOUSE_ISSUER: 'http://gatehouse.kill.test',
        GATEHOUSE_LOG_LEVEL: 'warn',
        ...FAST_ARGON2,
        ...NO_RATE_LIMITS,
      };
      // With the log at warn, the listening line is not printed: ask for it at info once.
      const first = await serve({ ...env, GATEHOUSE_LOG_LEVEL: 'info' });
      const answered: string[] = [];
      let killed = false;
      let cutShort = 0;
      const worker = async (w: number) => {
        for (let i = 0; !killed; i++) {
          const username = `w${w}_${i}`;
          try {
            if ((await register(first.url, username)) === 201) answered.push(username);
            if (answered.length >= ANSWERED_BEFORE_KILL && !killed) {
              killed = true;
              first.child.kill('SIGKILL');
            }
            await tokenStatus(first.url, username);
          } catch {
            // The connection died with the process: that request's fate is unknown, as a client's.
            cutShort++;
            return;
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      await exited(first.child);
      assert.equal(first.child.signalCode, 'SIGKILL');
      assert.ok(cutShort > 0, 'the kill came while requests were in flight');

      const second = await serve({ ...env, GATEHOUSE_LOG_LEVEL: 'info' });
      try {
        for (const username of answered) {
          assert.equal(await tokenStatus(second.url, username), 200, `${username} logs in after the restart`);
        }
      } finally {
        second.child.kill('SIGTERM');
        await exited(second.child);
      }

      if (database.name === 'sqlite') {
        const db = new DatabaseSync(databaseUrl.slice('sqlite:'.length), { readOnly: true });
        closeCounter = async () => db.close();
        assert.deepEqual({ ...db.prepare('pragma integrity_check').get() }, { integrity_check: 'ok' });
        count = async (query) => Number((db.prepare(query).get() as { n: number }).n);
      } else {
        const client = new pg.Client({ connectionString: databaseUrl });
        await client.connect();
        closeCounter = () => client.end();
        count = async (query) => Number((await client.query<{ n: string }>(query)).rows[0]?.n);
      }
      assert.ok((await count('select count(*) as n from users')) >= answered.length);
      for (const [what, query] of Object.entries(HALF_WRITTEN)) {
        assert.equal(await count(query), 0, what);
      }
    });
  });
}
