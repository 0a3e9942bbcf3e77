/** `POST /users` writes the user and the roles asked for together, or nothing. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, DATABASES, login, PASSWORD, type TestApp } from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`admin creating a user on ${database.name}`, () => {
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
  });
}
