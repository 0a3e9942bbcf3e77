/** An admin's `POST /users` and `PATCH /users/{id}` write everything asked for together, or nothing. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, DATABASES, login, PASSWORD, type TestApp } from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`admin writes to users on ${database.name}`, () => {
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

    const create = (roles: string[]) =>
      t.app.inject({
        method: 'POST',
        url: '/users',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { username: 'erin', email: 'erin@example.com', password: PASSWORD, roles },
      });

    test('an unknown role is refused with 422 and no user is created, so the corrected request succeeds', async () => {
      const refused = await create(['user', 'no-such-role']);
      assert.equal(refused.statusCode, 422, refused.body);
      assert.deepEqual(refused.json().detail[0].loc, ['body', 'roles']);
      assert.equal(await t.gatehouse.accounts.findByUsername('erin'), undefined);

      const created = await create(['moderator', 'moderator', 'user']);
      assert.equal(created.statusCode, 201, created.body);
      assert.deepEqual(created.json().roles, ['moderator', 'user']);
    });

    test('a PATCH with an unknown role changes nothing, not even the fields before it', async () => {
      const user = await t.gatehouse.accounts.register({
        username: 'frank',
        email: 'frank@example.com',
        password: PASSWORD,
      });
      const frankToken = await login(t.app, 'frank');
      const patch = (payload: Record<string, unknown>) =>
        t.app.inject({
          method: 'PATCH',
          url: `/users/${user.id}`,
          headers: { authorization: `Bearer ${adminToken}` },
          payload,
        });
      const refused = await patch({ full_name: 'Frank Changed', disabled: true, roles: ['no-such-role'] });
      assert.equal(refused.statusCode, 422, refused.body);
      const unchanged = await t.gatehouse.accounts.getUserOrThrow(user.id);
      assert.equal(unchanged.fullName, null);
      assert.equal(unchanged.disabled, false);
      assert.deepEqual(unchanged.roles, ['user']);
      const me = () =>
        t.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${frankToken}` } });
      assert.equal((await me()).statusCode, 200, 'sessions were not revoked');

      const applied = await patch({ full_name: 'Frank Changed', disabled: true, roles: ['moderator'] });
      assert.equal(applied.statusCode, 200, applied.body);
      assert.equal(applied.json().full_name, 'Frank Changed');
      assert.deepEqual(applied.json().roles, ['moderator']);
      assert.equal((await me()).statusCode, 401, 'disabling revoked the sessions');
    });
    test('two admins removing each other at the same moment: one is refused, an enabled admin remains', async () => {
      for (const name of ['ann', 'bob']) {
        await t.gatehouse.accounts.register({
          username: name,
          email: `${name}@example.com`,
          password: PASSWORD,
          roles: ['user', 'admin'],
        });
      }
      const ann = await t.gatehouse.accounts.findByUsername('ann');
      const bob = await t.gatehouse.accounts.findByUsername('bob');
      const root = await t.gatehouse.accounts.findByUsername('root');
      assert.ok(ann && bob && root);
      // root steps down first, so ann and bob are the only admins.
      const demoteRoot = await t.app.inject({
        method: 'PATCH',
        url: `/users/${root.id}`,
        headers: { authorization: `Bearer ${await login(t.app, 'ann')}` },
        payload: { roles: ['user'] },
      });
      assert.equal(demoteRoot.statusCode, 200, demoteRoot.body);
      const [annToken, bobToken] = [await login(t.app, 'ann'), await login(t.app, 'bob')];
      const answers = await Promise.all([
        t.app.inject({
          method: 'PATCH',
          url: `/users/${bob.id}`,
          headers: { authorization: `Bearer ${annToken}` },
          payload: { roles: ['user'] },
        }),
        t.app.inject({
          method: 'DELETE',
          url: `/users/${ann.id}`,
          headers: { authorization: `Bearer ${bobToken}` },
        }),
      ]);
      const statuses = answers.map((answer) => answer.statusCode).sort();
      assert.ok(
        (statuses[0] === 200 || statuses[0] === 204) && statuses[1] === 409,
        `one change must be refused: ${answers.map((a) => `${a.statusCode} ${a.body}`).join(' | ')}`,
      );
      const admins = await t.gatehouse.store.db
        .selectFrom('user_roles')
        .innerJoin('users', 'users.id', 'user_roles.user_id')
        .where('user_roles.role_name', '=', 'admin')
        .where('users.disabled', '=', 0)
        .select('users.username')
        .execute();
      assert.equal(admins.length, 1, JSON.stringify(admins));
    });
  });
}
