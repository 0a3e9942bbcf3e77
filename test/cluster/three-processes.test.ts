/**
 * Three `gatehouse serve` processes behind no balancer, as an operator runs them: one PostgreSQL
 * database, one Redis. Each check sends its requests to different processes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  FAST_ARGON2,
  PASSWORD,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  uniqueRedisPrefix,
} from '../support/gatehouse.ts';
import { freePort, type Running, start } from '../support/process.ts';
import { eventually } from '../support/tcp-proxy.ts';

const BIN = resolve('bin/gatehouse.js');
const skip = TEST_DATABASE_URL === undefined || TEST_REDIS_URL === undefined;
const ADMIN = { username: 'root', password: 'an admin password for the cluster' };

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

describe('three processes on one PostgreSQL and one Redis', { skip }, () => {
  const database = `gh_cluster_${randomBytes(6).toString('hex')}`;
  const adminUrl = TEST_DATABASE_URL ?? '';
  const running: Running[] = [];
  let env: Record<string, string>;
  let [a, b, c] = ['', '', ''];

  const call = async (
    base: string,
    method: string,
    path: string,
    options: { token?: string; json?: unknown; form?: Record<string, string>; ip?: string } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.ip) headers['x-forwarded-for'] = options.ip;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(`${base}${path}`, { method, headers, ...(body ? { body } : {}) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : {} };
  };
  const register = (base: string, username: string, ip = '192.0.2.1') =>
    call(base, 'POST', '/register', {
      json: { username, email: `${username}@example.com`, password: PASSWORD },
      ip,
    });
  const tokenFor = async (base: string, username: string, password = PASSWORD, scope?: string) => {
    const reply = await call(base, 'POST', '/token', {
      form: { username, password, ...(scope ? { scope } : {}) },
      ip: '192.0.2.2',
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body as { access_token: string; refresh_token: string };
  };

  before(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${database}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    env = {
      GATEHOUSE_DATABASE_URL: url.toString(),
      GATEHOUSE_REDIS_URL: TEST_REDIS_URL ?? '',
      GATEHOUSE_REDIS_PREFIX: uniqueRedisPrefix(),
      GATEHOUSE_ISSUER: 'http://gatehouse.cluster.test',
      GATEHOUSE_TRUST_PROXY: 'loopback',
      GATEHOUSE_RATE_LIMIT_REGISTER: 'off',
      GATEHOUSE_RATE_LIMIT_TOKEN: '6/1m',
      // The per-IP test repeats one wrong login; the failed-login throttle would refuse it first.
      GATEHOUSE_LOGIN_MAX_FAILURES: 'off',
      GATEHOUSE_ADMIN_USERNAME: ADMIN.username,
      GATEHOUSE_ADMIN_EMAIL: 'root@example.com',
      GATEHOUSE_ADMIN_PASSWORD: ADMIN.password,
      ...FAST_ARGON2,
    };
    const serve = async () => {
      const port = await freePort();
      const server = await start(
        [BIN, 'serve'],
        { ...env, GATEHOUSE_PORT: String(port) },
        /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
      );
      running.push(server);
      return server.url;
    };
    // The first creates the schema and the signing key; the other two start together.
    a = await serve();
    [b, c] = await Promise.all([serve(), serve()]);
  });

  after(async () => {
    await Promise.all(running.map((server) => server.stop()));
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  test('login on A, refresh on B, logout on C: A refuses both access tokens within 1 s', async () => {
    assert.equal((await register(a, 'alice')).status, 201);
    const first = await tokenFor(a, 'alice');
    const refreshed = await call(b, 'POST', '/token', {
      form: { grant_type: 'refresh_token', refresh_token: first.refresh_token },
    });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const second = refreshed.body.access_token as string;
    assert.equal((await call(a, 'GET', '/protected', { token: second })).status, 200);
    assert.equal((await call(c, 'POST', '/logout', { token: second })).status, 204);
    const took = await eventually(
      async () =>
        (await call(a, 'GET', '/protected', { token: second })).status === 401 &&
        (await call(a, 'GET', '/protected', { token: first.access_token })).status === 401,
      1000,
      'A refuses the tokens of the logged-out session',
    );
    assert.ok(took <= 1000);
  });

  test('the per-IP limit counts requests to all three processes together', async () => {
    const statuses: number[] = [];
    for (const base of [a, b, c, a, b, c, a, b, c]) {
      const reply = await call(base, 'POST', '/token', {
        form: { username: 'nobody', password: 'not the password' },
        ip: '198.51.100.77',
      });
      statuses.push(reply.status);
    }
    // 6 per minute in all: the seventh, whichever process gets it, is refused.
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 429, 429, 429]);
  });

  test('the same username registered on two processes at the same moment: one 201, one 400', async () => {
    for (let round = 0; round < 5; round++) {
      const username = `race${round}`;
      const replies = await Promise.all([register(a, username), register(b, username)]);
      assert.deepEqual(
        replies.map((reply) => reply.status).sort(),
        [201, 400],
        JSON.stringify(replies.map((reply) => reply.body)),
      );
      const refused = replies.find((reply) => reply.status === 400);
      assert.equal(refused?.body.detail, 'Username already registered');
    }
  });

  test('a key rotated through one process is published in every process’s JWKS within 1 s', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'keys', 'rotate'], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    const kid = /rotated: (\S+) is now/.exec(stdout)?.[1];
    assert.ok(kid, stdout);
    await eventually(
      async () => {
        const sets = await Promise.all(
          [a, b, c].map(async (base) => (await call(base, 'GET', '/.well-known/jwks.json')).body),
        );
        return sets.every((set) => (set.keys as { kid: string }[]).some((key) => key.kid === kid));
      },
      1000,
      'every JWKS lists the new key',
    );
    // Tokens are signed with it on every process, and verified everywhere.
    const { access_token } = await tokenFor(b, ADMIN.username, ADMIN.password);
    const header = JSON.parse(Buffer.from(access_token.split('.')[0] ?? '', 'base64url').toString());
    assert.equal(header.kid, kid);
    for (const base of [a, c])
      assert.equal((await call(base, 'GET', '/protected', { token: access_token })).status, 200);
  });

  test('a user disabled through one process is refused by all', async () => {
    const bob = await register(b, 'bob');
    assert.equal(bob.status, 201);
    const { access_token } = await tokenFor(c, 'bob');
    const admin = await tokenFor(a, ADMIN.username, ADMIN.password, 'users:write profile:read profile:write');
    const disabled = await call(a, 'PATCH', `/users/${bob.body.id}`, {
      token: admin.access_token,
      json: { disabled: true },
    });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    // Refused everywhere at once: 401 once the revocation has arrived, 400 "Inactive user" when the
    // process has heard that the user changed but not yet that their sessions were revoked.
    for (const base of [a, b, c]) {
      const refused = await call(base, 'GET', '/protected', { token: access_token });
      if (refused.status === 400) assert.equal(refused.body.detail, 'Inactive user', base);
      else assert.equal(refused.status, 401, base);
    }
    const login = await call(b, 'POST', '/token', {
      form: { username: 'bob', password: PASSWORD },
      ip: '192.0.2.3',
    });
    assert.equal(login.status, 400);
    assert.equal(login.body.detail, 'Inactive user');
  });
});
