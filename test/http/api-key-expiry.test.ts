/** Every API key expires: by default after GATEHOUSE_API_KEY_TTL, never later than the maximum. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createTestApp, DATABASES, login, registerUser, type TestApp } from '../support/gatehouse.ts';

const DAY_MS = 86_400_000;
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

async function withUser(
  databaseUrl: string | undefined,
  env: Record<string, string>,
  run: (t: TestApp, token: string) => Promise<void>,
): Promise<void> {
  const t = await createTestApp({ databaseUrl, env });
  try {
    await registerUser(t.app, 'alice');
    await run(t, await login(t.app, 'alice'));
  } finally {
    await t.close();
  }
}

const createKey = (t: TestApp, token: string, payload: Record<string, unknown>) =>
  t.app.inject({
    method: 'POST',
    url: '/api-keys',
    headers: auth(token),
    payload: { name: 'job', scopes: ['profile:read'], ...payload },
  });
const useKey = (t: TestApp, key: string) =>
  t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': key } });

for (const database of DATABASES) {
  describe(`API key expiry (${database.name})`, () => {
    test('a key without expires_in expires after 90 days; expires_in sets its lifetime', async () => {
      await withUser(database.url, {}, async (t, token) => {
        const now = t.clock.now();
        const byDefault = await createKey(t, token, {});
        assert.equal(byDefault.statusCode, 201);
        assert.equal(byDefault.json().expires_at, new Date(now + 90 * DAY_MS).toISOString());
        const hour = await createKey(t, token, { expires_in: 3600 });
        assert.equal(hour.json().expires_at, new Date(now + 3_600_000).toISOString());
        const listed = await t.app.inject({ method: 'GET', url: '/api-keys', headers: auth(token) });
        assert.ok(listed.json().items.every((key: { expires_at: string | null }) => key.expires_at !== null));
      });
    });

    test('an expired key gets 401 and its use is audited as api_key.expired_use_refused', async () => {
      await withUser(database.url, {}, async (t, token) => {
        const created = (await createKey(t, token, { expires_in: 60 })).json();
        assert.equal((await useKey(t, created.key)).statusCode, 200);
        t.clock.advance(60_000);
        const refused = await useKey(t, created.key);
        assert.equal(refused.statusCode, 401);
        const events = await t.gatehouse.store.db
          .selectFrom('audit_events')
          .select(['user_id', 'target', 'details'])
          .where('event', '=', 'api_key.expired_use_refused')
          .execute();
        assert.equal(events.length, 1);
        assert.equal(events[0]?.target, created.id);
        assert.ok(!JSON.stringify(events).includes(created.key.slice(-43)), 'never the secret');
        // A forged secret for the same id is not the key's use.
        const forged = `${created.key.slice(0, -43)}${'A'.repeat(43)}`;
        t.clock.advance(120_000);
        assert.equal((await useKey(t, forged)).statusCode, 401);
        const after = await t.gatehouse.store.db
          .selectFrom('audit_events')
          .select('id')
          .where('event', '=', 'api_key.expired_use_refused')
          .execute();
        assert.equal(after.length, 1);
      });
    });

    test('expires_in above GATEHOUSE_API_KEY_MAX_TTL, or a key that never expires, is a 422', async () => {
      await withUser(database.url, {}, async (t, token) => {
        const tooLong = await createKey(t, token, { expires_in: 365 * 86_400 + 1 });
        assert.equal(tooLong.statusCode, 422);
        assert.deepEqual(tooLong.json().detail[0].loc, ['body', 'expires_in']);
        assert.match(
          tooLong.json().detail[0].msg,
          /longest lifetime allowed for an API key is 31536000 seconds \(365 days\)/,
        );
        assert.equal((await createKey(t, token, { expires_in: 365 * 86_400 })).statusCode, 201);
        const never = await createKey(t, token, { expires_in: null });
        assert.equal(never.statusCode, 422);
        assert.match(never.json().detail[0].msg, /API keys must expire/);
        const farAt = await createKey(t, token, {
          expires_at: new Date(t.clock.now() + 400 * DAY_MS).toISOString(),
        });
        assert.equal(farAt.statusCode, 422, 'expires_at is held to the same maximum');
        assert.equal((await createKey(t, token, { expires_in: 0 })).statusCode, 422);
        assert.equal((await createKey(t, token, { expires_in: 1.5 })).statusCode, 422);
        assert.equal((await createKey(t, token, { expires_in: 60, expires_at: null })).statusCode, 422);
        const count = await t.gatehouse.store.db
          .selectFrom('api_keys')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        assert.equal(Number(count.n), 1, 'refused requests create nothing');
      });
    });

    test('with GATEHOUSE_API_KEY_MAX_TTL=none, "expires_in": null makes a key that never expires', async () => {
      const env = { GATEHOUSE_API_KEY_TTL: '7d', GATEHOUSE_API_KEY_MAX_TTL: 'none' };
      await withUser(database.url, env, async (t, token) => {
        const never = await createKey(t, token, { expires_in: null });
        assert.equal(never.statusCode, 201);
        assert.equal(never.json().expires_at, null);
        const byDefault = await createKey(t, token, {});
        assert.equal(byDefault.json().expires_at, new Date(t.clock.now() + 7 * DAY_MS).toISOString());
        t.clock.advance(3650 * DAY_MS);
        assert.equal((await useKey(t, never.json().key)).statusCode, 200);
      });
    });
  });
}

test('GATEHOUSE_API_KEY_MAX_TTL must be a duration at least GATEHOUSE_API_KEY_TTL, or none', () => {
  assert.throws(
    () => loadConfig({ GATEHOUSE_API_KEY_TTL: '30d', GATEHOUSE_API_KEY_MAX_TTL: '7d' }),
    /GATEHOUSE_API_KEY_MAX_TTL must be at least GATEHOUSE_API_KEY_TTL/,
  );
  assert.throws(() => loadConfig({ GATEHOUSE_API_KEY_MAX_TTL: 'forever' }), /GATEHOUSE_API_KEY_MAX_TTL/);
  assert.equal(loadConfig({ GATEHOUSE_API_KEY_MAX_TTL: 'none' }).apiKeyMaxTtlSeconds, null);
  assert.equal(loadConfig({}).apiKeyTtlSeconds, 90 * 86_400);
});
