/**
 * Every check of a password outside login — the current password at `POST /users/me/password`,
 * `POST /reauthenticate` — goes through the failed-login throttle and its audit, as `/token` does:
 * a stolen access token is no way around the limit on guessing the password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { listAuditEvents } from '../../src/store/audit.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

const WRONG = 'not the password';
const NEW_PASSWORD = 'a brand new passphrase';
const THROTTLE = { GATEHOUSE_LOGIN_MAX_FAILURES: '5', GATEHOUSE_TRUST_PROXY: 'loopback' };

/** The password checks a signed-in user makes, each sending `password` as the one to check. */
const CHECKS = [
  {
    name: 'POST /users/me/password',
    purpose: 'password_change',
    url: '/users/me/password',
    payload: (password: string) => ({ current_password: password, new_password: NEW_PASSWORD }),
    ok: 204,
  },
  {
    name: 'POST /reauthenticate',
    purpose: 'reauthenticate',
    url: '/reauthenticate',
    payload: (password: string) => ({ password }),
    ok: 200,
  },
] as const;

function assertThrottled(response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, 429, response.body);
  assert.equal(response.json().detail, 'Too many failed login attempts');
  assert.ok(Number(response.headers['retry-after']) >= 1);
}

for (const database of DATABASES) {
  describe(`password checks outside login on ${database.name}`, () => {
    let t: TestApp;
    let n = 0;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url, env: THROTTLE });
    });
    after(() => t.close());

    for (const check of CHECKS) {
      test(`${check.name}: 5 wrong passwords from one IP block that IP, the right one included, shared with /token; each is audited as login.failed`, async () => {
        const username = `user${++n}`;
        const user = await registerUser(t.app, username);
        const token = await login(t.app, username);
        const send = (ip: string, password: string) =>
          t.app.inject({
            method: 'POST',
            url: check.url,
            headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': ip },
            payload: check.payload(password),
          });

        for (let i = 0; i < 5; i++) {
          const wrong = await send('203.0.113.1', WRONG);
          assert.equal(wrong.statusCode, 400, wrong.body);
          assert.equal(wrong.json().detail, 'Incorrect password');
        }
        const hashes = t.gatehouse.hasher.verifications;
        assertThrottled(await send('203.0.113.1', PASSWORD));
        assert.equal(t.gatehouse.hasher.verifications, hashes, 'a refused check costs no hash');
        // The same pair as a login by username from that IP.
        assertThrottled(
          await t.app.inject({
            method: 'POST',
            url: '/token',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-forwarded-for': '203.0.113.1',
            },
            payload: new URLSearchParams({ username, password: PASSWORD }).toString(),
          }),
        );

        const failed = (await listAuditEvents(t.gatehouse.store.db, { event: 'login.failed', limit: 100 }))
          .filter((e) => e.userId === user.id)
          .map((e) => [e.ip, e.details?.reason, e.details?.purpose]);
        assert.deepEqual(failed, Array(5).fill(['203.0.113.1', 'wrong_password', check.purpose]));
        const blocked = await listAuditEvents(t.gatehouse.store.db, { event: 'login.blocked', limit: 100 });
        assert.equal(blocked.filter((e) => e.userId === user.id).length, 1);

        // The owner elsewhere is not affected.
        const ok = await send('198.51.100.7', PASSWORD);
        assert.equal(ok.statusCode, check.ok, ok.body);
      });
    }

    test('failures on both routes add up in one pair, and a right password resets it', async () => {
      const username = `user${++n}`;
      await registerUser(t.app, username);
      const token = await login(t.app, username);
      const send = (check: (typeof CHECKS)[number], password: string) =>
        t.app.inject({
          method: 'POST',
          url: check.url,
          headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.2' },
          payload: check.payload(password),
        });
      const [change, reauth] = CHECKS;
      for (let i = 0; i < 2; i++) assert.equal((await send(change, WRONG)).statusCode, 400);
      for (let i = 0; i < 2; i++) assert.equal((await send(reauth, WRONG)).statusCode, 400);
      assert.equal((await send(reauth, PASSWORD)).statusCode, 200, 'the fifth is right');
      for (let i = 0; i < 4; i++) assert.equal((await send(reauth, WRONG)).statusCode, 400);
      assert.equal((await send(change, WRONG)).statusCode, 400);
      assertThrottled(await send(change, PASSWORD));
    });
  });
}
