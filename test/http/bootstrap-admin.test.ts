/** The administrator created from GATEHOUSE_ADMIN_* can log in even when addresses must be verified. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bootstrapAdmin } from '../../src/bootstrap-admin.ts';
import { createTestApp, DATABASES, login, PASSWORD, registerUser } from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`the bootstrap administrator (${database.name})`, () => {
    test('with GATEHOUSE_REQUIRE_VERIFIED_EMAIL=true the configured admin logs in; a new user still must verify', async () => {
      const t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_REQUIRE_VERIFIED_EMAIL: 'true',
          GATEHOUSE_ADMIN_USERNAME: 'boss',
          GATEHOUSE_ADMIN_EMAIL: 'boss@example.com',
          GATEHOUSE_ADMIN_PASSWORD: PASSWORD,
        },
      });
      try {
        assert.equal(await bootstrapAdmin(t.gatehouse), true);
        const token = await login(t.app, 'boss');
        const me = await t.app.inject({
          method: 'GET',
          url: '/users/me',
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(me.json().email_verified, true);
        assert.deepEqual(me.json().roles, ['admin', 'user']);
        await registerUser(t.app, 'newbie');
        await assert.rejects(login(t.app, 'newbie'), /400/);
      } finally {
        await t.close();
      }
    });
  });
}
