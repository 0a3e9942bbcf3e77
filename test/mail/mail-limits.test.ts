/**
 * Nobody can block a victim's mail flows: anonymous requests for an address count per (address,
 * client IP) tightly and per address loosely, and a signed-in user's own verification or email
 * change is counted apart from them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DATABASES, login, registerUser, type TestApp } from '../support/gatehouse.ts';
import { withMailApp } from '../support/mail-app.ts';

/** The shipped defaults of both per-address limits (an empty setting means its default). */
const DEFAULT_ADDRESS_LIMITS = {
  GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS: '',
  GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS_IP: '',
};
const VICTIM_IP = '198.51.100.10';

const anonymous = (t: TestApp, url: string, email: string, remoteAddress: string) =>
  t.app.inject({ method: 'POST', url, payload: { email }, remoteAddress });

for (const database of DATABASES) {
  describe(`per-address mail limits (${database.name})`, () => {
    test("one client's flood of a victim's address blocks only that client", async () => {
      await withMailApp(database.url, DEFAULT_ADDRESS_LIMITS, async ({ t }) => {
        await registerUser(t.app, 'victim');
        const attacker = '203.0.113.66';
        const answers = [];
        for (let i = 0; i < 5; i++) {
          answers.push((await anonymous(t, '/forgot-password', 'victim@example.com', attacker)).statusCode);
        }
        assert.deepEqual(answers, [202, 202, 202, 429, 429], '3 an hour per (address, IP)');
        assert.equal((await anonymous(t, '/magic-link', 'Victim@Example.com', attacker)).statusCode, 429);

        for (const url of ['/magic-link', '/forgot-password']) {
          const own = await anonymous(t, url, 'victim@example.com', VICTIM_IP);
          assert.equal(own.statusCode, 202, `the victim's own ${url}`);
        }
      });
    });

    test('the per-address limit from all clients is loose: 20 an hour', async () => {
      await withMailApp(database.url, DEFAULT_ADDRESS_LIMITS, async ({ t }) => {
        let accepted = 0;
        for (let ip = 1; ip <= 8; ip++) {
          for (let i = 0; i < 3; i++) {
            const answer = await anonymous(t, '/forgot-password', 'target@example.com', `203.0.113.${ip}`);
            if (answer.statusCode === 202) accepted++;
            else assert.equal(answer.statusCode, 429);
          }
        }
        assert.equal(accepted, 20);
      });
    });

    test("anonymous requests never block a signed-in user's own verification or email change", async () => {
      await withMailApp(database.url, DEFAULT_ADDRESS_LIMITS, async ({ t }) => {
        await registerUser(t.app, 'victim');
        const access = await login(t.app, 'victim');
        // Every anonymous budget of both addresses used up, from many clients.
        for (const email of ['victim@example.com', 'victim.new@example.com']) {
          for (let ip = 1; ip <= 8; ip++) {
            for (let i = 0; i < 3; i++) await anonymous(t, '/magic-link', email, `203.0.113.${ip}`);
          }
          assert.equal((await anonymous(t, '/magic-link', email, '203.0.113.99')).statusCode, 429);
        }
        const headers = { authorization: `Bearer ${access}` };
        const verification = await t.app.inject({
          method: 'POST',
          url: '/verify/request',
          headers,
          remoteAddress: VICTIM_IP,
        });
        assert.equal(verification.statusCode, 202);
        const change = await t.app.inject({
          method: 'PATCH',
          url: '/users/me',
          headers,
          payload: { email: 'victim.new@example.com' },
          remoteAddress: VICTIM_IP,
        });
        assert.equal(change.statusCode, 200);

        // The user's own budget is tight too: 3 an hour for one address.
        for (let i = 0; i < 2; i++) {
          await t.app.inject({ method: 'POST', url: '/verify/request', headers, remoteAddress: VICTIM_IP });
        }
        const fourth = await t.app.inject({ method: 'POST', url: '/verify/request', headers });
        assert.equal(fourth.statusCode, 429);
      });
    });
  });
}
