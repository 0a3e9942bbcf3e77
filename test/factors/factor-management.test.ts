/**
 * Managing second factors: removal (step-up, recovery codes go with the last factor, refused for
 * the last passkey of an account without a password), the administrator's reset under the
 * privilege ceiling, the notices mailed for each change, and HTTP Basic refused once a factor exists.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { NO_REQUEST } from '../../src/auth/request-context.ts';
import { listAuditEvents } from '../../src/store/audit.ts';
import { DATABASES, login, PASSWORD, registerUser } from '../support/gatehouse.ts';
import { type MailApp, withMailApp } from '../support/mail-app.ts';
import { mailTo } from '../support/smtp.ts';
import { createSoftAuthenticator } from '../support/soft-authenticator.ts';
import {
  bearer,
  ENCRYPTION_KEY,
  enrolTotp,
  mfaToken,
  passwordTokens,
  STEP_MS,
  tokenRequest,
} from './support.ts';

const ENV = { GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY };

async function signedInWithApp(m: MailApp, username: string) {
  const { id } = await registerUser(m.t.app, username);
  const enrolled = await enrolTotp(m.t, (await passwordTokens(m.t.app, username)).access_token);
  const done = await tokenRequest(m.t.app, {
    grant_type: 'urn:gatehouse:grant-type:mfa-otp',
    mfa_token: await mfaToken(m.t.app, username),
    otp: totpCode(enrolled.secret, m.t.clock.now()),
  });
  assert.equal(done.statusCode, 200, done.body);
  m.t.clock.advance(STEP_MS);
  return { userId: id, ...enrolled, access: done.json().access_token as string };
}

const notices = async (m: MailApp, address: string) => {
  await m.deliver();
  return mailTo(m.smtp.messages, address).filter((mail) => mail.subject?.startsWith('Security change'));
};

for (const database of DATABASES) {
  describe(`managing second factors on ${database.name}`, () => {
    test('removing the last factor with a two-factor sign-in takes the recovery codes with it; adding and removing each mail a notice', async () => {
      await withMailApp(database.url, ENV, async (m) => {
        const alice = await signedInWithApp(m, 'alice');
        assert.equal((await notices(m, 'alice@example.com')).length, 1, 'added');
        const removed = await m.t.app.inject({
          method: 'DELETE',
          url: `/users/me/factors/${alice.userId}`,
          headers: bearer(alice.access),
        });
        assert.equal(removed.statusCode, 404, 'a user id is not a factor id');
        const listed = (
          await m.t.app.inject({ method: 'GET', url: '/users/me/factors', headers: bearer(alice.access) })
        ).json();
        const factorId = listed.items[0].id;
        const gone = await m.t.app.inject({
          method: 'DELETE',
          url: `/users/me/factors/${factorId}`,
          headers: bearer(alice.access),
        });
        assert.equal(gone.statusCode, 204, gone.body);
        const after = (
          await m.t.app.inject({ method: 'GET', url: '/users/me/factors', headers: bearer(alice.access) })
        ).json();
        assert.deepEqual(after, { items: [], recovery_codes_remaining: 0 });
        const mails = await notices(m, 'alice@example.com');
        assert.equal(mails.length, 2);
        assert.match(mails[1]?.text ?? '', /removed/);
        assert.equal(
          (await tokenRequest(m.t.app, { username: 'alice', password: PASSWORD })).statusCode,
          200,
        );
      });
    });

    test('a recovery code used to sign in mails a notice', async () => {
      await withMailApp(database.url, ENV, async (m) => {
        const bob = await signedInWithApp(m, 'bob');
        const done = await tokenRequest(m.t.app, {
          grant_type: 'urn:gatehouse:grant-type:mfa-recovery-code',
          mfa_token: await mfaToken(m.t.app, 'bob'),
          recovery_code: bob.recoveryCodes[3] ?? '',
        });
        assert.equal(done.statusCode, 200, done.body);
        const mails = await notices(m, 'bob@example.com');
        assert.ok(mails.some((mail) => /recovery code was used/.test(mail.text ?? '')));
        assert.ok(!mails.some((mail) => (mail.text ?? '').includes(bob.recoveryCodes[3] ?? '-')));
      });
    });

    test("an administrator resets a user's factors (users:write, audited, the user mailed); a helpdesk role below the user's roles is refused", async () => {
      await withMailApp(database.url, ENV, async (m) => {
        const carol = await signedInWithApp(m, 'carol');
        await m.t.gatehouse.accounts.register({
          username: 'root',
          email: 'root@example.com',
          password: PASSWORD,
          roles: ['user', 'admin'],
        });
        await m.t.gatehouse.roles.createRole(operatorActor(), 'helpdesk', 'Support', [
          'users:read',
          'users:write',
          'profile:read',
        ]);
        await m.t.gatehouse.accounts.register({
          username: 'helper',
          email: 'helper@example.com',
          password: PASSWORD,
          roles: ['helpdesk'],
        });
        const carolUser = await m.t.gatehouse.accounts.findByUsername('carol');
        await m.t.gatehouse.accounts.setRoles(carolUser?.id ?? '', ['user', 'moderator']);
        const plain = await m.t.app.inject({
          method: 'DELETE',
          url: `/users/${carolUser?.id}/factors`,
          headers: bearer(carol.access),
        });
        assert.equal(plain.statusCode, 403);
        const helper = await m.t.app.inject({
          method: 'DELETE',
          url: `/users/${carolUser?.id}/factors`,
          headers: bearer(await login(m.t.app, 'helper')),
        });
        assert.equal(helper.statusCode, 403, helper.body);
        assert.equal(helper.json().code, 'PRIVILEGE_ESCALATION');
        const reset = await m.t.app.inject({
          method: 'DELETE',
          url: `/users/${carolUser?.id}/factors`,
          headers: bearer(await login(m.t.app, 'root')),
        });
        assert.equal(reset.statusCode, 200, reset.body);
        assert.deepEqual(reset.json(), { removed: 1 });
        const events = await listAuditEvents(m.t.gatehouse.store.db, { event: 'factors.reset', limit: 10 });
        assert.equal(events.length, 1);
        assert.equal(events[0]?.userId, carolUser?.id);
        assert.ok(
          (await notices(m, 'carol@example.com')).some((mail) =>
            /administrator removed/.test(mail.text ?? ''),
          ),
        );
        assert.equal(
          (await tokenRequest(m.t.app, { username: 'carol', password: PASSWORD })).statusCode,
          200,
        );
      });
    });

    test('the last passkey of an account without a password cannot be removed (409 LAST_SIGN_IN_METHOD)', async () => {
      await withMailApp(
        database.url,
        { ...ENV, GATEHOUSE_PUBLIC_URL: 'http://localhost:8000' },
        async (m) => {
          const { id } = await registerUser(m.t.app, 'dave');
          const { access_token } = await passwordTokens(m.t.app, 'dave');
          const options = (
            await m.t.app.inject({
              method: 'POST',
              url: '/users/me/factors/webauthn/options',
              headers: bearer(access_token),
            })
          ).json();
          const key = createSoftAuthenticator('localhost');
          const created = await m.t.app.inject({
            method: 'POST',
            url: '/users/me/factors/webauthn',
            headers: bearer(access_token),
            payload: { response: key.register(options, 'http://localhost:8000') },
          });
          assert.equal(created.statusCode, 201, created.body);
          await m.t.gatehouse.store.db
            .updateTable('users')
            .set({ password_hash: null })
            .where('id', '=', id)
            .execute();
          m.t.gatehouse.accounts.usersChanged([id]);
          const request = (
            await m.t.app.inject({ method: 'POST', url: '/webauthn/authenticate/options' })
          ).json();
          const signedIn = await tokenRequest(m.t.app, {
            grant_type: 'urn:gatehouse:grant-type:webauthn',
            assertion: JSON.stringify(key.assert(request, 'http://localhost:8000')),
          });
          assert.equal(signedIn.statusCode, 200, signedIn.body);
          const refused = await m.t.app.inject({
            method: 'DELETE',
            url: `/users/me/factors/${created.json().id}`,
            headers: bearer(signedIn.json().access_token),
          });
          assert.equal(refused.statusCode, 409, refused.body);
          assert.equal(refused.json().code, 'LAST_SIGN_IN_METHOD');
        },
      );
    });

    test('HTTP Basic does not open an account that has a second factor', async () => {
      await withMailApp(database.url, ENV, async (m) => {
        await signedInWithApp(m, 'erin');
        await assert.rejects(m.t.gatehouse.sessions.verifyPassword('erin', PASSWORD, NO_REQUEST), {
          code: 'INVALID_CREDENTIALS',
        });
      });
    });
  });
}
