/**
 * Passkeys over the API with a software authenticator: registration (recovery codes for a first
 * factor), passwordless sign-in, a passkey as the second step, a cloned credential whose counter
 * goes back (refused and audited), a credential of another account, and step-up with a passkey
 * alone at `/reauthenticate` (its attacks: another user's passkey, a replayed challenge, a
 * sign-in's or another session's challenge).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { listAuditEvents } from '../../src/store/audit.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { createSoftAuthenticator, type SoftAuthenticator } from '../support/soft-authenticator.ts';
import { bearer, mfaToken, passwordTokens, tokenRequest } from './support.ts';

const ORIGIN = 'http://localhost:8000';

for (const database of DATABASES) {
  describe(`passkeys over the API on ${database.name}`, () => {
    let t: TestApp;
    let n = 0;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url, env: { GATEHOUSE_PUBLIC_URL: ORIGIN } });
    });
    after(() => t.close());

    async function withPasskey(): Promise<{
      username: string;
      id: string;
      key: SoftAuthenticator;
      body: Record<string, unknown>;
      accessToken: string;
    }> {
      const username = `pk${++n}`;
      const { id } = await registerUser(t.app, username);
      const { access_token } = await passwordTokens(t.app, username);
      const options = await t.app.inject({
        method: 'POST',
        url: '/users/me/factors/webauthn/options',
        headers: bearer(access_token),
      });
      assert.equal(options.statusCode, 200, options.body);
      assert.equal(options.json().rp.id, 'localhost');
      assert.equal(options.json().authenticatorSelection.residentKey, 'preferred');
      const key = createSoftAuthenticator('localhost');
      const created = await t.app.inject({
        method: 'POST',
        url: '/users/me/factors/webauthn',
        headers: bearer(access_token),
        payload: { name: 'Laptop', response: key.register(options.json(), ORIGIN) },
      });
      assert.equal(created.statusCode, 201, created.body);
      return { username, id, key, body: created.json(), accessToken: access_token };
    }

    async function passwordless(key: SoftAuthenticator) {
      const options = await t.app.inject({ method: 'POST', url: '/webauthn/authenticate/options' });
      assert.equal(options.statusCode, 200, options.body);
      assert.equal(options.json().allowCredentials, undefined);
      return tokenRequest(t.app, {
        grant_type: 'urn:gatehouse:grant-type:webauthn',
        assertion: JSON.stringify(key.assert(options.json(), ORIGIN)),
      });
    }

    test('registering a first passkey returns 10 recovery codes; the passkey then signs in with no password, multi-factor', async () => {
      const { key, body } = await withPasskey();
      assert.equal((body.recovery_codes as string[]).length, 10);
      assert.equal(body.type, 'webauthn');
      const response = await passwordless(key);
      assert.equal(response.statusCode, 200, response.body);
      const claims = decodeJwt(response.json().access_token);
      assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
      assert.equal(claims.acr, 'urn:gatehouse:acr:mfa');
    });

    test('a password sign-in then needs the passkey as second factor (mfa-webauthn grant)', async () => {
      const { username, key } = await withPasskey();
      const token = await mfaToken(t.app, username);
      const options = await t.app.inject({
        method: 'POST',
        url: '/mfa/webauthn/options',
        payload: { mfa_token: token },
      });
      assert.equal(options.statusCode, 200, options.body);
      assert.deepEqual(
        options.json().allowCredentials.map((c: { id: string }) => c.id),
        [key.credentialId],
      );
      const done = await tokenRequest(t.app, {
        grant_type: 'urn:gatehouse:grant-type:mfa-webauthn',
        mfa_token: token,
        assertion: JSON.stringify(key.assert(options.json(), ORIGIN)),
      });
      assert.equal(done.statusCode, 200, done.body);
      assert.deepEqual(decodeJwt(done.json().access_token).amr, ['pwd', 'hwk', 'user', 'mfa']);
    });

    test('a cloned credential whose sign count goes back is refused and audited', async () => {
      const { id, key } = await withPasskey();
      assert.equal((await passwordless(key)).statusCode, 200);
      assert.equal((await passwordless(key)).statusCode, 200);
      key.signCount = 1;
      const cloned = await passwordless(key);
      assert.equal(cloned.statusCode, 400, cloned.body);
      assert.equal(cloned.json().error, 'invalid_grant');
      const events = (
        await listAuditEvents(t.gatehouse.store.db, { event: 'webauthn.sign_count_regressed', limit: 100 })
      ).filter((e) => e.userId === id);
      assert.equal(events.length, 1);
    });

    test("an assertion over a spent or foreign challenge, or by another account's passkey at the second step, is refused", async () => {
      const first = await withPasskey();
      const second = await withPasskey();
      const options = (await t.app.inject({ method: 'POST', url: '/webauthn/authenticate/options' })).json();
      const assertion = JSON.stringify(first.key.assert(options, ORIGIN));
      assert.equal(
        (await tokenRequest(t.app, { grant_type: 'urn:gatehouse:grant-type:webauthn', assertion }))
          .statusCode,
        200,
      );
      assert.equal(
        (await tokenRequest(t.app, { grant_type: 'urn:gatehouse:grant-type:webauthn', assertion }))
          .statusCode,
        400,
      );
      const token = await mfaToken(t.app, second.username);
      const mfaOptions = (
        await t.app.inject({ method: 'POST', url: '/mfa/webauthn/options', payload: { mfa_token: token } })
      ).json();
      const foreign = await tokenRequest(t.app, {
        grant_type: 'urn:gatehouse:grant-type:mfa-webauthn',
        mfa_token: token,
        assertion: JSON.stringify(first.key.assert(mfaOptions, ORIGIN)),
      });
      assert.equal(foreign.statusCode, 400, foreign.body);
      const wrongOrigin = await passwordlessAt(first.key, 'http://evil.test');
      assert.equal(wrongOrigin.statusCode, 400);
      void PASSWORD;
    });

    const stepUpOptions = (accessToken: string) =>
      t.app.inject({ method: 'POST', url: '/reauthenticate/webauthn/options', headers: bearer(accessToken) });
    const reauthenticate = (accessToken: string, payload: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/reauthenticate', headers: bearer(accessToken), payload });

    test('a passkey alone steps up: auth_time renewed, amr hwk + user + mfa, acr mfa, and MFA-guarded changes go through', async () => {
      const { key, accessToken } = await withPasskey();
      t.clock.advance(11 * 60_000);
      const stale = await t.app.inject({
        method: 'POST',
        url: '/users/me/recovery-codes',
        headers: bearer(accessToken),
      });
      assert.equal(stale.statusCode, 401, stale.body);
      const options = await stepUpOptions(accessToken);
      assert.equal(options.statusCode, 200, options.body);
      assert.equal(options.json().userVerification, 'required');
      assert.deepEqual(
        options.json().allowCredentials.map((c: { id: string }) => c.id),
        [key.credentialId],
      );
      const done = await reauthenticate(accessToken, {
        assertion: JSON.stringify(key.assert(options.json(), ORIGIN)),
      });
      assert.equal(done.statusCode, 200, done.body);
      const claims = decodeJwt(done.json().access_token);
      assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
      assert.equal(claims.acr, 'urn:gatehouse:acr:mfa');
      assert.equal(claims.auth_time, Math.floor(t.clock.now() / 1000));
      const codes = await t.app.inject({
        method: 'POST',
        url: '/users/me/recovery-codes',
        headers: bearer(done.json().access_token),
      });
      assert.equal(codes.statusCode, 200, codes.body);
      const events = await listAuditEvents(t.gatehouse.store.db, { event: 'user.reauthenticated', limit: 1 });
      assert.equal(events[0]?.details?.method, 'passkey');
    });

    test("step-up refuses another user's passkey, a replayed challenge, a sign-in's challenge and another session's", async () => {
      const mine = await withPasskey();
      const theirs = await withPasskey();
      const expectFailed = async (response: Awaited<ReturnType<typeof reauthenticate>>, what: string) => {
        assert.equal(response.statusCode, 400, `${what}: ${response.body}`);
        assert.equal(response.json().code, 'WEBAUTHN_FAILED', what);
      };

      const options = (await stepUpOptions(mine.accessToken)).json();
      const foreign = JSON.stringify(theirs.key.assert(options, ORIGIN));
      await expectFailed(await reauthenticate(mine.accessToken, { assertion: foreign }), 'their passkey');

      const own = JSON.stringify(mine.key.assert((await stepUpOptions(mine.accessToken)).json(), ORIGIN));
      assert.equal((await reauthenticate(mine.accessToken, { assertion: own })).statusCode, 200);
      await expectFailed(await reauthenticate(mine.accessToken, { assertion: own }), 'replayed');

      const signIn = (await t.app.inject({ method: 'POST', url: '/webauthn/authenticate/options' })).json();
      const forSignIn = JSON.stringify(mine.key.assert(signIn, ORIGIN));
      await expectFailed(
        await reauthenticate(mine.accessToken, { assertion: forSignIn }),
        'sign-in challenge',
      );

      const other = (await passwordless(mine.key)).json();
      const otherSession = (await stepUpOptions(other.access_token)).json();
      const elsewhere = JSON.stringify(mine.key.assert(otherSession, ORIGIN));
      await expectFailed(await reauthenticate(mine.accessToken, { assertion: elsewhere }), 'other session');

      const both = await reauthenticate(mine.accessToken, { password: PASSWORD, assertion: own });
      assert.equal(both.statusCode, 422, both.body);
      const neither = await reauthenticate(mine.accessToken, {});
      assert.equal(neither.statusCode, 422, neither.body);
      const { username } = await registerUser(t.app, `nokey${++n}`);
      const noPasskey = await stepUpOptions((await passwordTokens(t.app, username)).access_token);
      assert.equal(noPasskey.statusCode, 404, noPasskey.body);
    });

    async function passwordlessAt(key: SoftAuthenticator, origin: string) {
      const options = (await t.app.inject({ method: 'POST', url: '/webauthn/authenticate/options' })).json();
      return tokenRequest(t.app, {
        grant_type: 'urn:gatehouse:grant-type:webauthn',
        assertion: JSON.stringify(key.assert(options, origin)),
      });
    }
  });
}
