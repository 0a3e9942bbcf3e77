/**
 * External sign-in meets second factors: a provider's sign-in is one factor, so an account with
 * an authenticator app is asked for it; and a passkey, a password or another connected account
 * each count as a way in when one of them is removed. With GATEHOUSE_MFA=required the pages take
 * a provider's sign-in on to enrolment, as they do a password's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { insertFactor } from '../../src/store/factors.ts';
import { findSession } from '../../src/store/sessions.ts';
import { bearer, ENCRYPTION_KEY, enrolTotp, passwordTokens, tokenRequest } from '../factors/support.ts';
import { BROWSER_ACCEPT, browserFormHeaders, form } from '../pages/form-client.ts';
import {
  startOidcProvider,
  startSignIn,
  type TestOidcProvider,
  visitProvider,
} from '../support/external-providers.ts';
import { createTestApp, DATABASES, PASSWORD, type TestApp } from '../support/gatehouse.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

for (const database of DATABASES) {
  describe(`external sign-in and second factors (${database.name})`, () => {
    let oidc: TestOidcProvider;
    let t: TestApp;

    before(async () => {
      oidc = await startOidcProvider();
      t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_GOOGLE_ISSUER: oidc.issuer,
          GATEHOUSE_GOOGLE_CLIENT_ID: 'web-client,android-client',
          GATEHOUSE_GOOGLE_CLIENT_SECRET: 'web-secret',
          GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY,
        },
      });
    });
    after(async () => {
      await t.close();
      await oidc.close();
    });

    const idToken = (subject: string, email: string) =>
      oidc.server.issuer.buildToken({
        expiresIn: 600,
        scopesOrTransform: (_header: unknown, payload: Record<string, unknown>) => {
          Object.assign(payload, { sub: subject, aud: 'android-client', email, email_verified: true });
        },
      });
    const exchange = async (subject: string, email: string) =>
      tokenRequest(t.app, {
        grant_type: EXCHANGE,
        subject_token: await idToken(subject, email),
        subject_token_type: ID_TOKEN,
        provider: 'google',
      });

    test("an account with an authenticator app is asked for it after the provider's sign-in", async () => {
      await t.gatehouse.accounts.register({
        username: 'guarded',
        email: 'guarded@example.com',
        password: PASSWORD,
        emailVerified: true,
      });
      const { access_token } = await passwordTokens(t.app, 'guarded');
      const { secret } = await enrolTotp(t, access_token);
      // The provider's verified address links to the account, but one factor is not enough.
      const first = await exchange('guarded-sub', 'guarded@example.com');
      assert.equal(first.statusCode, 403, first.body);
      assert.equal(first.json().error, 'mfa_required');
      const done = await tokenRequest(t.app, {
        grant_type: 'urn:gatehouse:grant-type:mfa-otp',
        mfa_token: first.json().mfa_token,
        otp: totpCode(secret, t.clock.now()),
      });
      assert.equal(done.statusCode, 200, done.body);
      const amr = decodeJwt(done.json().access_token).amr as string[];
      assert.ok(amr.includes('ext') && amr.includes('otp') && amr.includes('mfa'), amr.join(' '));
    });

    test('policy: a browser sign-in with a provider into an account that must enrol goes on to enrolment, which finishes it with ext + otp', async () => {
      const required = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_GOOGLE_ISSUER: oidc.issuer,
          GATEHOUSE_GOOGLE_CLIENT_ID: 'web-client',
          GATEHOUSE_GOOGLE_CLIENT_SECRET: 'web-secret',
          GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY,
          GATEHOUSE_MFA: 'required',
        },
      });
      try {
        oidc.claims = { sub: 'newcomer-sub', email: 'newcomer@example.com', email_verified: true };
        const start = await startSignIn(
          required.app,
          'google',
          `?return_to=${encodeURIComponent('/users/me')}`,
        );
        const callback = await required.app.inject({
          method: 'GET',
          url: await visitProvider(start.location ?? ''),
          headers: { cookie: start.stateCookie, accept: BROWSER_ACCEPT },
        });
        assert.equal(callback.statusCode, 200, callback.body);
        assert.doesNotMatch(String(callback.headers['set-cookie']), /gatehouse_session=[^;]/);
        assert.match(callback.body, /Set up a second factor/);
        const token = /name="enrollment_token" value="([^"]+)"/.exec(callback.body)?.[1] ?? '';
        const post = (url: string, fields: Record<string, string>) =>
          required.app.inject({ method: 'POST', url, headers: browserFormHeaders(), payload: form(fields) });
        const setup = await post('/login/enrollment/totp', {
          enrollment_token: token,
          return_to: '/users/me',
        });
        const secret =
          /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.body)?.[1]?.replace(/ /g, '') ?? '';
        const action = /action="([^"]+\/confirm)"/.exec(setup.body)?.[1] ?? '';
        const done = await post(action, {
          enrollment_token: token,
          return_to: '/users/me',
          code: totpCode(secret, required.clock.now()),
        });
        assert.equal(done.statusCode, 200, done.body);
        assert.match(done.body, /href='\/users\/me'>Continue/);
        const sessionId = /gatehouse_session=([^.;]+)\./.exec(String(done.headers['set-cookie']))?.[1] ?? '';
        const session = await findSession(required.gatehouse.store.db, sessionId);
        assert.deepEqual([...(session?.amr ?? [])].sort(), ['ext', 'mfa', 'otp']);
        assert.equal(session?.externalProvider, 'google');
      } finally {
        await required.close();
      }
    });

    test('a passkey counts as a way in: the only connected account of a passwordless user with one can go', async () => {
      const signedUp = await exchange('passkey-sub', 'keyholder@example.com');
      assert.equal(signedUp.statusCode, 200, signedUp.body);
      const token = signedUp.json().access_token;
      const userId = String(decodeJwt(token).sub);
      const [identity] = (
        await t.app.inject({ method: 'GET', url: '/users/me/identities', headers: bearer(token) })
      ).json();
      const unlink = () =>
        t.app.inject({
          method: 'DELETE',
          url: `/users/me/identities/${identity.id}`,
          headers: bearer(token),
        });
      const refused = await unlink();
      assert.equal(refused.statusCode, 409, refused.body);
      assert.equal(refused.json().code, 'LAST_SIGN_IN_METHOD');
      await insertFactor(t.gatehouse.store.db, {
        id: 'passkey-of-keyholder',
        userId,
        type: 'webauthn',
        name: 'Laptop',
        secret: null,
        lastStep: null,
        credentialId: 'Y3JlZGVudGlhbC1vZi1rZXlob2xkZXI',
        publicKey: 'cHVibGljLWtleQ',
        signCount: 0,
        transports: [],
        aaguid: null,
        backedUp: false,
        createdAt: t.clock.now(),
        confirmedAt: t.clock.now(),
        lastUsedAt: null,
      });
      assert.equal((await unlink()).statusCode, 204);
    });
  });
}
