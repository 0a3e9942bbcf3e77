import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, DATABASES, login, registerUser, type TestApp } from './support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`core flow on ${database.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
    });
    after(() => t.close());

    test('a registered user logs in and reads /users/me', async () => {
      await registerUser(t.app, 'alice');
      const token = await login(t.app, 'alice');
      const me = await t.app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().username, 'alice');
    });
  });
}
