/**
 * The operator commands, in-process through `main` with the console captured (a process per
 * command cost a second each); one check runs the real binary, as a user starts it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { runGatehouse } from './support/cli.ts';
import { FAST_ARGON2 } from './support/gatehouse.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
const env = {
  PATH: process.env.PATH ?? '',
  GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`,
  ...FAST_ARGON2,
};

const gatehouse = (...args: string[]) => runGatehouse(env, ...args);

/** The user `users list` prints under that name. */
async function userNamed(username: string): Promise<{ id: string; roles: string[]; disabled: boolean }> {
  const listed = await gatehouse('users', 'list');
  assert.equal(listed.code, 0, listed.stderr);
  const users = listed.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const user = users.find((u: { username: string }) => u.username === username);
  assert.ok(user, `no user ${username} listed`);
  return user;
}

describe('the gatehouse command', async () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('migrate applies the schema, then reports it up to date', async () => {
    const first = await gatehouse('migrate');
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /applied: 2026-11-22-1-core, 2026-11-22-2-sessions, 2026-11-22-3-authorization/,
    );
    assert.match((await gatehouse('migrate')).stdout, /up to date/);
  });

  test('create-admin makes an admin that users list shows', async () => {
    const created = await gatehouse(
      'create-admin',
      '--username',
      'root',
      '--email',
      'root@example.com',
      '--password',
      'a long admin passphrase',
    );
    assert.equal(created.code, 0, created.stderr);
    const listed = await gatehouse('users', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    const users = listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(users.length, 1);
    assert.equal(users[0].username, 'root');
    assert.deepEqual(users[0].roles, ['admin', 'user']);
    assert.equal(users[0].password_hash, undefined);
  });

  test('users disable, enable and set-roles change the user', async () => {
    const made = await gatehouse(
      'create-admin',
      '--username',
      'deputy',
      '--email',
      'deputy@example.com',
      '--password',
      'another admin passphrase',
    );
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await gatehouse('users', 'disable', 'deputy')).code, 0);
    assert.equal((await userNamed('deputy')).disabled, true);
    assert.equal((await gatehouse('users', 'enable', 'deputy')).code, 0);
    assert.equal((await userNamed('deputy')).disabled, false);
    assert.equal((await gatehouse('users', 'set-roles', 'deputy', 'user,moderator')).code, 0);
    assert.deepEqual((await userNamed('deputy')).roles, ['moderator', 'user']);
  });

  test('users set-roles and disable keep the last enabled admin, as the admin API does', async () => {
    for (const args of [
      ['users', 'set-roles', 'root', 'user'],
      ['users', 'set-roles', 'root', ''],
      ['users', 'disable', 'root'],
    ]) {
      const refused = await gatehouse(...args);
      assert.equal(refused.code, 1, args.join(' '));
      assert.match(refused.stderr, /last enabled admin/, args.join(' '));
    }
    assert.deepEqual((await userNamed('root')).roles, ['admin', 'user']);
    assert.equal((await userNamed('root')).disabled, false);
  });

  test('users commands write audit events with the CLI as the actor', async () => {
    const deputy = await userNamed('deputy');
    const db = new DatabaseSync(join(dir, 'cli.db'), { readOnly: true });
    try {
      const events = db
        .prepare(
          'SELECT event, details, actor_id, user_agent FROM audit_events WHERE user_id = ? AND event != ? ORDER BY at, rowid',
        )
        .all(deputy.id, 'user.created')
        .map((row) => ({
          event: row.event,
          details: JSON.parse(String(row.details)),
          actor: row.actor_id,
          agent: row.user_agent,
        }));
      const cli = { actor: null, agent: 'gatehouse-cli' };
      assert.deepEqual(events, [
        { event: 'user.disabled', details: { fields: ['disabled'], sessions_revoked: 0 }, ...cli },
        { event: 'user.enabled', details: { fields: ['disabled'], sessions_revoked: 0 }, ...cli },
        {
          event: 'role.changed',
          details: { fields: ['roles'], before: ['admin', 'user'], after: ['moderator', 'user'] },
          ...cli,
        },
      ]);
    } finally {
      db.close();
    }
  });

  test('help says the users commands act as the operator', async () => {
    const help = await gatehouse('help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /act as the operator/);
    assert.match(help.stdout, /keep the last enabled admin/);
  });

  test('keys rotate makes a new active key and keys list shows both with their states', async () => {
    const before = await gatehouse('keys', 'list');
    assert.equal(before.code, 0, before.stderr);
    const [first] = before.stdout.trim().split('\n');
    const [oldKid, alg, created, state] = (first ?? '').split('\t');
    assert.equal(alg, 'EdDSA');
    assert.ok(!Number.isNaN(Date.parse(created ?? '')));
    assert.equal(state, 'active');
    const rotated = await gatehouse('keys', 'rotate');
    assert.equal(rotated.code, 0, rotated.stderr);
    const lines = (await gatehouse('keys', 'list')).stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.[3], 'active');
    assert.deepEqual([lines[1]?.[0], lines[1]?.[3]], [oldKid, 'retired']);
  });

  test('bad arguments exit non-zero with a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['users', 'disable', 'nobody'], /no user named "nobody"/],
      [['users', 'set-roles', 'root', 'emperor'], /Unknown role: emperor/],
      [['users'], /users: needs a command/],
      [['create-admin', '--username', 'x'], /needs --username, --email and --password/],
      [
        ['create-admin', '--username', 'weak', '--email', 'weak@example.com', '--password', 'password'],
        /password: Password is too common/,
      ],
      [['users', 'list', '--bogus'], /unknown option --bogus/],
      [['keys'], /keys: needs a command/],
      [['keys', 'rotate', 'now'], /takes no arguments/],
    ];
    for (const [args, message] of cases) {
      const result = await gatehouse(...args);
      assert.notEqual(result.code, 0, args.join(' '));
      assert.match(result.stderr, message, args.join(' '));
    }
  });

  // The process tier: the real binary, as a user starts it.
  test('bin/gatehouse.js runs a command against the database and exits 0', () => {
    const result = spawnSync(process.execPath, ['bin/gatehouse.js', 'users', 'list'], {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).username)
        .sort(),
      ['deputy', 'root'],
    );
  });

  test('a bad setting stops the command with one line naming the variable and exit status 78', () => {
    const result = spawnSync(process.execPath, ['bin/gatehouse.js', 'migrate'], {
      env: { ...env, GATEHOUSE_PORT: 'abc' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 78);
    assert.equal(
      result.stderr.trim(),
      'gatehouse: configuration: GATEHOUSE_PORT must be a whole number from 0 to 65535',
    );
  });
});
