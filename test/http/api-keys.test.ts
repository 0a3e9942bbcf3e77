import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

for (const database of DATABASES) {
  describe(`API keys on ${database.name}`, () => {
    let t: TestApp;
    let adminToken: string;
    let aliceToken: string;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      await t.gatehouse.accounts.register({
        username: 'root',
        email: 'root@example.com',
        password: PASSWORD,
        roles: ['user', 'admin'],
      });
      adminToken = await login(t.app, 'root');
      await registerUser(t.app, 'alice');
      aliceToken = await login(t.app, 'alice');
    });
    after(() => t.close());

    const createKey = (token: string, payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/api-keys', headers: auth(token), payload });

    test('a key is returned once as gh_<id>_<secret>, stored only as a hash, and never listed', async () => {
      const response = await createKey(adminToken, { name: 'ci', scopes: ['users:read'] });
      assert.equal(response.statusCode, 201);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json();
      assert.match(body.key, /^gh_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(body.scopes, ['users:read']);
      const row = await t.gatehouse.store.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', body.id)
        .executeTakeFirstOrThrow();
      // The secret is everything after the 24-hex id; it may itself contain '_'.
      const secret = body.key.slice('gh_'.length + 24 + 1);
      assert.equal(secret.length, 43);
      assert.ok(!row.secret_hash.includes(secret));
      const listed = await t.app.inject({ method: 'GET', url: '/api-keys', headers: auth(adminToken) });
      assert.ok(listed.json().items.some((k: { id: string }) => k.id === body.id));
      assert.ok(!listed.body.includes(secret));
      assert.equal(listed.json().items[0].key, undefined);
    });

    test("X-API-Key and Authorization: Bearer gh_… both act as the owner limited to the key's scopes", async () => {
      const { key } = (await createKey(adminToken, { name: 'reader', scopes: ['users:read'] })).json();
      const viaHeader = await t.app.inject({ method: 'GET', url: '/users', headers: { 'x-api-key': key } });
      assert.equal(viaHeader.statusCode, 200);
      const viaBearer = await t.app.inject({ method: 'GET', url: '/users', headers: auth(key) });
      assert.equal(viaBearer.statusCode, 200);
      // The owner is an admin, but the key only carries users:read.
      const beyond = await t.app.inject({ method: 'GET', url: '/audit', headers: { 'x-api-key': key } });
      assert.equal(beyond.statusCode, 403);
      assert.equal(
        beyond.headers['www-authenticate'],
        'Bearer error="insufficient_scope", scope="audit:read"',
      );
      // /users/me needs profile:read, which this key does not carry; /protected needs only a user.
      const me = await t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': key } });
      assert.equal(me.statusCode, 403);
      const hello = await t.app.inject({ method: 'GET', url: '/protected', headers: { 'x-api-key': key } });
      assert.equal(hello.json().message, 'Hello root, this is a protected route!');
    });

    test("a key cannot carry scopes beyond the creator's permissions", async () => {
      const response = await createKey(aliceToken, {
        name: 'sneaky',
        scopes: ['profile:read', 'users:read'],
      });
      assert.equal(response.statusCode, 403);
      assert.equal(
        response.headers['www-authenticate'],
        'Bearer error="insufficient_scope", scope="users:read"',
      );
      assert.equal((await createKey(aliceToken, { name: 'fine', scopes: ['profile:read'] })).statusCode, 201);
    });

    test('expired, revoked, forged and unknown keys answer 401', async () => {
      const expiring = (
        await createKey(adminToken, {
          name: 'short',
          scopes: ['users:read'],
          expires_at: new Date(t.clock.now() + 60_000).toISOString(),
        })
      ).json();
      const revoked = (await createKey(adminToken, { name: 'gone', scopes: ['users:read'] })).json();
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: `/api-keys/${revoked.id}`, headers: auth(adminToken) }))
          .statusCode,
        204,
      );
      t.clock.advance(61_000);
      const forged = `gh_${expiring.id}_${'A'.repeat(43)}`;
      for (const key of [
        expiring.key,
        revoked.key,
        forged,
        `gh_${'0'.repeat(24)}_${'B'.repeat(43)}`,
        'gh_nonsense',
      ]) {
        const response = await t.app.inject({
          method: 'GET',
          url: '/users/me',
          headers: { 'x-api-key': key },
        });
        assert.equal(response.statusCode, 401, key.slice(0, 30));
        assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"');
      }
      const past = await createKey(adminToken, {
        name: 'past',
        scopes: [],
        expires_at: new Date(t.clock.now() - 1000).toISOString(),
      });
      assert.equal(past.statusCode, 422);
    });

    test("keys of a disabled owner stop working; a deleted owner's keys go with them", async () => {
      const bob = await registerUser(t.app, 'bobkey');
      const bobToken = await login(t.app, 'bobkey');
      const { key } = (await createKey(bobToken, { name: 'bob', scopes: ['profile:read'] })).json();
      await t.gatehouse.accounts.setDisabled(bob.id, true);
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': key } })).statusCode,
        400,
      );
      await t.app.inject({ method: 'DELETE', url: `/users/${bob.id}`, headers: auth(adminToken) });
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': key } })).statusCode,
        401,
      );
    });

    test("users manage only their own keys; apikeys:write lists and revokes anyone's", async () => {
      const aliceKey = (await createKey(aliceToken, { name: 'mine', scopes: ['profile:read'] })).json();
      const adminKey = (await createKey(adminToken, { name: 'admin', scopes: ['profile:read'] })).json();
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: `/api-keys/${adminKey.id}`, headers: auth(aliceToken) }))
          .statusCode,
        404,
      );
      const aliceId = aliceKey.user_id;
      assert.equal(
        (
          await t.app.inject({
            method: 'GET',
            url: `/api-keys?user_id=${aliceId}`,
            headers: auth(aliceToken),
          })
        ).statusCode,
        200,
      );
      assert.equal(
        (
          await t.app.inject({
            method: 'GET',
            url: `/api-keys?user_id=${adminKey.user_id}`,
            headers: auth(aliceToken),
          })
        ).statusCode,
        403,
      );
      const adminView = await t.app.inject({
        method: 'GET',
        url: `/api-keys?user_id=${aliceId}`,
        headers: auth(adminToken),
      });
      assert.ok(adminView.json().items.some((k: { id: string }) => k.id === aliceKey.id));
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: `/api-keys/${aliceKey.id}`, headers: auth(adminToken) }))
          .statusCode,
        204,
      );
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': aliceKey.key } }))
          .statusCode,
        401,
      );
    });

    test('last_used_at is written at most once a minute, not on every request', async () => {
      const { key, id } = (await createKey(adminToken, { name: 'busy', scopes: ['profile:read'] })).json();
      const lastUsed = async () =>
        (
          await t.gatehouse.store.db
            .selectFrom('api_keys')
            .select('last_used_at')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).last_used_at;
      await t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': key } });
      const first = await lastUsed();
      assert.equal(Number(first), t.clock.now());
      t.clock.advance(30_000);
      await t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': key } });
      assert.equal(await lastUsed(), first, 'not rewritten within the minute');
      t.clock.advance(31_000);
      await t.app.inject({ method: 'GET', url: '/users/me', headers: { 'x-api-key': key } });
      assert.equal(Number(await lastUsed()), t.clock.now());
    });

    test('over a real socket, a scope-guarded route works with the key exactly as the README shows with curl', async () => {
      const { key } = (await createKey(adminToken, { name: 'curl', scopes: ['users:read'] })).json();
      const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
      const response = await fetch(`${address}/users?limit=1`, { headers: { 'X-API-Key': key } });
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { items: unknown[] }).items.length, 1);
    });
  });
}
