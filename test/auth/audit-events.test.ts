/**
 * Audit events come from the services, so the CLI and an embedding app's own calls leave the same
 * trail as the HTTP API; what an event records of a change (before and after, field names).
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import type { RequestContext } from '../../src/auth/request-context.ts';
import { listAuditEvents } from '../../src/store/audit.ts';
import {
  createTestApp,
  DATABASES,
  FAST_ARGON2,
  login,
  PASSWORD,
  registerUser,
} from '../support/gatehouse.ts';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('the CLI writes the events the admin API writes, as the operator (no actor, user agent gatehouse-cli)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-cli-'));
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`,
      ...FAST_ARGON2,
    };
    const run = (...args: string[]) => {
      const result = spawnSync(process.execPath, ['bin/gatehouse.js', ...args], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(result.status, 0, result.stderr);
    };
    run('create-admin', '--username', 'root', '--email', 'root@example.com', '--password', PASSWORD);
    run('create-admin', '--username', 'ops', '--email', 'ops@example.com', '--password', PASSWORD);
    run('users', 'set-roles', 'ops', 'user,moderator');
    run('users', 'disable', 'ops');

    const db = new DatabaseSync(join(dir, 'cli.db'));
    const rows = db
      .prepare(
        'select event, actor_id, target, user_id, ip, user_agent, details from audit_events order by at, rowid',
      )
      .all() as {
      event: string;
      actor_id: null;
      target: string;
      user_id: string;
      ip: null;
      user_agent: string;
      details: string;
    }[];
    const ops = db.prepare("select id from users where username = 'ops'").get() as { id: string };
    db.close();
    const ofOps = rows.filter((row) => row.user_id === ops.id);
    assert.deepEqual(
      ofOps.map((row) => [row.event, JSON.parse(row.details)]),
      [
        [
          'user.created',
          {
            fields: ['email', 'password', 'roles', 'username'],
            roles: ['admin', 'user'],
            method: 'cli',
          },
        ],
        ['role.changed', { fields: ['roles'], before: ['admin', 'user'], after: ['moderator', 'user'] }],
        ['user.disabled', { fields: ['disabled'], sessions_revoked: 0 }],
      ],
    );
    for (const row of ofOps) {
      assert.equal(row.actor_id, null);
      assert.equal(row.ip, null);
      assert.equal(row.user_agent, 'gatehouse-cli');
      assert.equal(row.target, ops.id);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const database of DATABASES) {
  describe(`audit events of changes (${database.name})`, () => {
    test('an embedding app calling the services gets the same events, with the actor and address it names', async () => {
      const t = await createTestApp({ databaseUrl: database.url });
      try {
        const { roles, apiKeys, userAdmin, accounts } = t.gatehouse;
        const admin = await accounts.register({
          username: 'root',
          email: 'root@example.com',
          password: PASSWORD,
          roles: ['user', 'admin'],
        });
        const host: RequestContext = { ip: '10.1.2.3', userAgent: 'host-app/1.0', actorId: admin.id };
        const adminActor = {
          kind: 'user' as const,
          userId: admin.id,
          permissions: roles.permissionsOf(admin.roles),
        };
        // Events of one instant are listed in id order: each step gets its own second.
        const tick = () => t.clock.advance(1000);
        const bob = await accounts.register(
          { username: 'bob', email: 'bob@example.com', password: PASSWORD },
          host,
        );
        tick();
        await roles.createRole(adminActor, 'billing', 'Billing', ['items:read'], host);
        tick();
        await userAdmin.update(adminActor, bob.id, { roles: ['user', 'billing'] }, host);
        tick();
        const { record } = await apiKeys.create(
          bob.id,
          { name: 'ci', scopes: ['profile:read'] },
          new Set(['profile:read']),
          host,
        );
        tick();
        await apiKeys.revoke(adminActor, record.id, undefined, host);

        const events = (await listAuditEvents(t.gatehouse.store.db, { actorId: admin.id })).reverse();
        assert.deepEqual(
          events.map((e) => [e.event, e.target]),
          [
            ['user.created', bob.id],
            ['role.created', 'billing'],
            ['role.changed', bob.id],
            ['api_key.created', record.id],
            ['api_key.revoked', record.id],
          ],
        );
        for (const event of events) {
          assert.equal(event.ip, '10.1.2.3');
          assert.equal(event.userAgent, 'host-app/1.0');
        }
        assert.equal(events[3]?.userId, bob.id, 'an API key event concerns its owner');
        assert.equal(events[1]?.userId, null, 'a role event concerns no account');
      } finally {
        await t.close();
      }
    });

    test('GET /audit shows who changed what: roles before and after, permissions before and after, and filters by actor', async () => {
      const t = await createTestApp({ databaseUrl: database.url });
      try {
        const admin = await t.gatehouse.accounts.register({
          username: 'root',
          email: 'root@example.com',
          password: PASSWORD,
          roles: ['user', 'admin'],
        });
        const carol = await registerUser(t.app, 'carol');
        const token = await login(t.app, 'root');
        const patch = (url: string, payload: object) => {
          t.clock.advance(1000);
          return t.app.inject({ method: 'PATCH', url, headers: bearer(token), payload });
        };
        await t.app.inject({
          method: 'POST',
          url: '/roles',
          headers: bearer(token),
          payload: { name: 'support', permissions: ['users:read'] },
        });
        assert.equal(
          (await patch('/roles/support', { permissions: ['users:read', 'sessions:revoke'] })).statusCode,
          200,
        );
        assert.equal((await patch(`/users/${carol.id}`, { roles: ['support', 'admin'] })).statusCode, 200);
        assert.equal((await patch(`/users/${carol.id}`, { roles: ['admin', 'support'] })).statusCode, 200);

        const listed = await t.app.inject({
          method: 'GET',
          url: `/audit?actor_id=${admin.id}`,
          headers: bearer(token),
        });
        assert.equal(listed.statusCode, 200);
        const items = (
          listed.json().items as { event: string; actor_id: string; target: string; details: object }[]
        )
          .reverse()
          .map(({ event, actor_id, target, details }) => ({ event, actor_id, target, details }));
        assert.deepEqual(items, [
          {
            event: 'role.created',
            actor_id: admin.id,
            target: 'support',
            details: { fields: ['description', 'name', 'permissions'], permissions: ['users:read'] },
          },
          {
            event: 'role.updated',
            actor_id: admin.id,
            target: 'support',
            details: {
              fields: ['permissions'],
              permissions_before: ['users:read'],
              permissions_after: ['sessions:revoke', 'users:read'],
            },
          },
          {
            event: 'role.changed',
            actor_id: admin.id,
            target: carol.id,
            details: { fields: ['roles'], before: ['user'], after: ['admin', 'support'] },
          },
        ]);
        const byCarol = await t.app.inject({
          method: 'GET',
          url: `/audit?actor_id=${carol.id}`,
          headers: bearer(token),
        });
        assert.deepEqual(byCarol.json().items, [], 'carol changed nothing');
      } finally {
        await t.close();
      }
    });
  });
}
