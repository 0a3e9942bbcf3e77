/**
 * Validation errors name the field as the client sent it (FastAPI's `loc`): the new password is
 * `new_password` in the body, and a bad cursor is a `query` parameter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { storeEmailToken } from '../support/email-token.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`error locations on ${database.name}`, () => {
    let t: TestApp;
    let userId: string;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      userId = (await registerUser(t.app, 'alice')).id;
      await t.gatehouse.accounts.setRoles(userId, ['user', 'admin']);
    });
    after(async () => t?.close());

    test('a refused new password on /users/me/password and /reset-password is body.new_password', async () => {
      const token = await login(t.app, 'alice');
      const change = await t.app.inject({
        method: 'POST',
        url: '/users/me/password',
        headers: { authorization: `Bearer ${token}` },
        payload: { current_password: PASSWORD, new_password: 'short' },
      });
      assert.equal(change.statusCode, 422);
      assert.deepEqual(change.json().detail[0].loc, ['body', 'new_password']);

      const link = await storeEmailToken(t, 'reset', { id: userId, email: 'alice@example.com' });
      for (const weak of ['short', 'password', 'alice@example.com']) {
        const reset = await t.app.inject({
          method: 'POST',
          url: '/reset-password',
          payload: { token: link, new_password: weak },
        });
        assert.equal(reset.statusCode, 422, weak);
        assert.deepEqual(reset.json().detail[0].loc, ['body', 'new_password'], weak);
      }
    });

    test('an invalid cursor is reported on query.cursor', async () => {
      const token = await login(t.app, 'alice');
      for (const url of ['/users?cursor=nonsense', '/audit?cursor=nonsense']) {
        const response = await t.app.inject({
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(response.statusCode, 422, url);
        assert.deepEqual(response.json().detail, [
          { loc: ['query', 'cursor'], msg: 'Invalid cursor', type: 'value_error.cursor' },
        ]);
      }
    });
  });
}
