/**
 * The per-process user cache in front of the request path: it saves the database round trip,
 * yet a change made through Gatehouse is seen by the very next request. The test clock never
 * moves on its own, so without the invalidation a cached user would be served forever here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { createUserCache } from '../../src/auth/user-cache.ts';
import { createManualClock } from '../../src/clock.ts';
import { findUserById, type UserRecord } from '../../src/store/users.ts';
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
  describe(`user cache on ${database.name}`, () => {
    let t: TestApp;
    let adminToken: string;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      await t.gatehouse.accounts.register({
        username: 'root',
        email: 'root@example.com',
        password: PASSWORD,
        roles: ['user', 'admin'],
      });
      adminToken = await login(t.app, 'root');
    });
    after(() => t.close());

    const get = (url: string, headers: Record<string, string>) =>
      t.app.inject({ method: 'GET', url, headers });

    test('a role taken away is enforced on the next request although the user was cached', async () => {
      const mod = await registerUser(t.app, 'moddy');
      await t.gatehouse.accounts.setRoles(mod.id, ['user', 'admin']);
      const token = await login(t.app, 'moddy', PASSWORD, 'users:read');
      assert.equal((await get('/users', auth(token))).statusCode, 200);
      assert.equal((await get('/users', auth(token))).statusCode, 200, 'served from the cache');
      await t.gatehouse.accounts.setRoles(mod.id, ['user']);
      assert.equal((await get('/users', auth(token))).statusCode, 403);
    });

    test("a disabled owner's API key is refused on the next request although the owner was cached", async () => {
      await registerUser(t.app, 'keyholder');
      const token = await login(t.app, 'keyholder');
      const created = await t.app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: auth(token),
        payload: { name: 'k', scopes: ['profile:read'] },
      });
      const { key } = created.json();
      const me = await get('/users/me', { 'x-api-key': key });
      assert.equal(me.statusCode, 200);
      await t.gatehouse.accounts.setDisabled(me.json().id, true);
      assert.equal((await get('/users/me', { 'x-api-key': key })).statusCode, 400);
    });

    test('a profile edited by an admin shows on the next request of its owner', async () => {
      const user = await registerUser(t.app, 'renamed', { full_name: 'Old Name' });
      const token = await login(t.app, 'renamed');
      assert.equal((await get('/users/me', auth(token))).json().full_name, 'Old Name');
      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/users/${user.id}`,
        headers: auth(adminToken),
        payload: { full_name: 'New Name' },
      });
      assert.equal(patched.statusCode, 200, patched.body);
      assert.equal((await get('/users/me', auth(token))).json().full_name, 'New Name');
    });

    test('a role deleted with force is gone from cached users at once', async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/roles',
        headers: auth(await login(t.app, 'root', PASSWORD, 'roles:write')),
        payload: { name: 'pro', description: 'Paid', permissions: [] },
      });
      assert.equal(created.statusCode, 201, created.body);
      const pro = await registerUser(t.app, 'paying');
      await t.gatehouse.accounts.setRoles(pro.id, ['user', 'pro']);
      const token = await login(t.app, 'paying');
      assert.deepEqual((await get('/users/me', auth(token))).json().roles, ['pro', 'user']);
      await t.gatehouse.roles.deleteRole(operatorActor(), 'pro', true);
      assert.deepEqual((await get('/users/me', auth(token))).json().roles, ['user']);
    });

    test('the cache is bounded, least recently used first, entries expire, and a load racing a change is not kept', async () => {
      const ids = await Promise.all(
        ['lru1', 'lru2', 'lru3'].map(async (name) => (await registerUser(t.app, name)).id),
      );
      const [one, two, three] = ids as [string, string, string];
      const loaded: string[] = [];
      const load = (id: string): Promise<UserRecord | undefined> => {
        loaded.push(id);
        return findUserById(t.gatehouse.store.db, id);
      };
      const clock = createManualClock();
      const cache = createUserCache({ maxEntries: 2, maxAgeMs: 1000, now: () => clock.now() });

      for (const id of [one, two, one, three, one, two]) await cache.get(id, load);
      assert.deepEqual(loaded, [one, two, three, two], 'two was least recently used when three came');

      loaded.length = 0;
      clock.advance(1000);
      await cache.get(one, load);
      assert.deepEqual(loaded, [one], 'expired after its maximum age');

      loaded.length = 0;
      const racing = cache.get(three, load);
      cache.usersChanged([three]);
      assert.equal((await racing)?.id, three);
      await cache.get(three, load);
      assert.deepEqual(loaded, [three, three], 'what was read before the change was not remembered');

      const off = createUserCache({ maxEntries: 0, maxAgeMs: 1000, now: () => clock.now() });
      loaded.length = 0;
      await off.get(one, load);
      await off.get(one, load);
      assert.deepEqual(loaded, [one, one], 'size 0 turns it off');
    });
  });
}
