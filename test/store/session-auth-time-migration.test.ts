/**
 * The migration that adds `sessions.auth_time`: a session from before it counts as proven when it
 * was created, and it goes down and up again on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import * as migration from '../../src/store/migrations/2026-12-02-3-session-auth-time.ts';
import { findSession } from '../../src/store/sessions.ts';
import { createTestApp, DATABASES, registerUser } from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`sessions.auth_time migration on ${database.name}`, () => {
    test('existing sessions get auth_time = created_at; new ones keep theirs', async () => {
      const t = await createTestApp({ databaseUrl: database.url });
      try {
        const user = await registerUser(t.app, 'alice');
        const db = t.gatehouse.store.db;
        await migration.down(db);
        const createdAt = t.clock.now() - 3_600_000;
        await sql`insert into sessions (id, user_id, kind, created_at, last_used_at, expires_at)
          values (${'old-session'}, ${user.id}, ${'token'}, ${createdAt}, ${createdAt}, ${createdAt + 86_400_000})`.execute(
          db,
        );
        await migration.up(db);
        assert.equal((await findSession(db, 'old-session'))?.authTime, createdAt);
      } finally {
        await t.close();
      }
    });
  });
}
