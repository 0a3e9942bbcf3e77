/**
 * Every hot query is served by an index: the SQL the store really sends (captured through Kysely's
 * log) is explained on a few thousand rows with sequential scans priced out of reach, and the plan
 * must use the expected index and no Seq Scan. docs/postgres.md shows these plans.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { loadKeyRing } from '../../src/auth/keys.ts';
import { findApiKey } from '../../src/store/api-keys.ts';
import { listAuditEvents } from '../../src/store/audit.ts';
import type { Store } from '../../src/store/db.ts';
import type { Database } from '../../src/store/schema.ts';
import { findRefreshToken, findSession, listSessionsRevokedSince } from '../../src/store/sessions.ts';
import { searchUsers } from '../../src/store/user-lists.ts';
import { findUserById, findUserByLogin } from '../../src/store/users.ts';
import { createTestApp, TEST_DATABASE_URL, type TestApp } from '../support/gatehouse.ts';

const ROWS = 3000;

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}

describe('PostgreSQL plans of the hot queries', { skip: TEST_DATABASE_URL === undefined }, () => {
  let t: TestApp;
  let captured: CompiledQuery[];
  let logged: Kysely<Database>;
  let explainer: pg.Client;
  const base = 1_700_000_000_000;
  const id = (prefix: string, i: number) => `${prefix}${String(i).padStart(6, '0')}`;

  before(async () => {
    t = await createTestApp({ databaseUrl: TEST_DATABASE_URL });
    const { db } = t.gatehouse.store;
    const range = Array.from({ length: ROWS }, (_, i) => i);
    for (let start = 0; start < ROWS; start += 500) {
      const chunk = range.slice(start, start + 500);
      await db
        .insertInto('users')
        .values(
          chunk.map((i) => ({
            id: id('u', i),
            username: id('user', i),
            username_normalized: id('user', i),
            email: `${id('user', i)}@example.com`,
            email_normalized: `${id('user', i)}@example.com`,
            full_name: null,
            password_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
            disabled: 0,
            created_at: base + i,
            updated_at: base + i,
          })),
        )
        .execute();
      await db
        .insertInto('user_roles')
        .values(chunk.map((i) => ({ user_id: id('u', i), role_name: 'user' })))
        .execute();
      await db
        .insertInto('sessions')
        .values(
          chunk.map((i) => ({
            id: id('s', i),
            user_id: id('u', i),
            kind: 'token' as const,
            secret_hash: null,
            ip: null,
            user_agent: null,
            created_at: base + i,
            last_used_at: base + i,
            expires_at: base + i + 86_400_000,
            revoked_at: i % 10 === 0 ? base + i : null,
            revoked_reason: null,
          })),
        )
        .execute();
      await db
        .insertInto('refresh_tokens')
        .values(
          chunk.map((i) => ({
            id: id('r', i),
            session_id: id('s', i),
            secret_hash: 'x',
            scope: '',
            client_id: 'gatehouse',
            created_at: base + i,
          })),
        )
        .execute();
      await db
        .insertInto('audit_events')
        .values(
          chunk.map((i) => ({
            id: id('a', i),
            at: base + i,
            event: 'login.succeeded',
            user_id: id('u', i % 300),
            session_id: id('s', i),
            details: '{}',
          })),
        )
        .execute();
      await db
        .insertInto('api_keys')
        .values(
          chunk.map((i) => ({
            id: id('k', i),
            user_id: id('u', i),
            name: 'ci',
            secret_hash: 'x',
            scopes: '',
            created_at: base + i,
          })),
        )
        .execute();
    }
    const schemaOptions = `-c search_path=${t.pgSchema}`;
    explainer = new pg.Client({ connectionString: TEST_DATABASE_URL, options: schemaOptions });
    await explainer.connect();
    await explainer.query('analyze');
    // Priced out of reach, not forbidden: a plan with a Seq Scan now means no index could serve.
    await explainer.query('set enable_seqscan = off');
    captured = [];
    logged = new Kysely<Database>({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: TEST_DATABASE_URL, options: schemaOptions, max: 1 }),
      }),
      log: (event) => {
        if (event.level === 'query') captured.push(event.query);
      },
    });
  });

  after(async () => {
    await logged?.destroy();
    await explainer?.end();
    await t?.close();
  });

  /** Runs `call` against the store, explains the last query it sent, returns the plan's nodes. */
  async function planOf(call: (store: Store) => Promise<unknown>): Promise<PlanNode[]> {
    captured.length = 0;
    await call({ ...t.gatehouse.store, db: logged });
    const query = captured.at(-1);
    assert.ok(query, 'the call sent a query');
    const result = await explainer.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      `explain (format json) ${query.sql}`,
      [...query.parameters],
    );
    const plan = result.rows[0]?.['QUERY PLAN'][0]?.Plan;
    assert.ok(plan);
    return flatten(plan);
  }

  const HOT: [string, string, (store: Store) => Promise<unknown>][] = [
    ['user by id (every authenticated request)', 'users_pkey', (s) => findUserById(s.db, id('u', 42))],
    [
      'user by username or email (login)',
      'users_username_normalized_key',
      (s) => findUserByLogin(s.db, 'user000042'),
    ],
    ['session by id', 'sessions_pkey', (s) => findSession(s.db, id('s', 42))],
    [
      'refresh token by id (its hash is compared after)',
      'refresh_tokens_pkey',
      (s) => findRefreshToken(s.db, id('r', 42)),
    ],
    ['API key by id (its hash is compared after)', 'api_keys_pkey', (s) => findApiKey(s.db, id('k', 42))],
    [
      'sessions revoked since (start and resync)',
      'sessions_revoked_idx',
      (s) => listSessionsRevokedSince(s.db, base + ROWS - 100),
    ],
    [
      'audit log, newest first, next page',
      'audit_events_at_idx',
      (s) => listAuditEvents(s.db, { limit: 50, before: { at: base + 1000, id: id('a', 1000) } }),
    ],
    [
      'audit log of one user',
      'audit_events_user_idx',
      (s) => listAuditEvents(s.db, { userId: id('u', 7), limit: 50 }),
    ],
    [
      'users page after a cursor',
      'users_created_idx',
      (s) => searchUsers(s.db, {}, { limit: 50, after: { createdAt: base + 1000, id: id('u', 1000) } }),
    ],
    [
      'signing keys of the algorithm (start and reload)',
      'signing_keys_alg_idx',
      (s) => loadKeyRing(s, 'EdDSA', undefined, t.clock, { retainRetiredMs: 0 }),
    ],
  ];

  for (const [name, index, call] of HOT) {
    test(`${name}: ${index}, no Seq Scan`, async () => {
      const nodes = await planOf(call);
      const types = nodes.map((node) => node['Node Type']);
      assert.ok(
        !types.includes('Seq Scan'),
        `${name}: ${JSON.stringify(nodes.map((n) => [n['Node Type'], n['Index Name']]))}`,
      );
      // Bounded by the index (an Index Cond), not a walk of the whole index with a filter.
      assert.ok(
        nodes.some(
          (node) =>
            /Index/.test(node['Node Type']) &&
            node['Index Name'] === index &&
            node['Index Cond'] !== undefined,
        ),
        `${name} uses ${index}: ${JSON.stringify(nodes.map((n) => [n['Node Type'], n['Index Name']]))}`,
      );
    });
  }
});
