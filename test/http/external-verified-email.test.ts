/**
 * GATEHOUSE_REQUIRE_VERIFIED_EMAIL applies to external sign-ins as to passwords: an address the
 * provider vouches for (a provider trusted to verify addresses, and verified there) counts as
 * verified; an account made from any other address gets a verification link and signs in once
 * it is verified. Shown through the token-exchange grant, which shares the rules with the
 * browser flow (auth/external/linking.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tokenRequest } from '../factors/support.ts';
import { storeEmailToken } from '../support/email-token.ts';
import { providerIdToken, startOidcProvider, type TestOidcProvider } from '../support/external-providers.ts';
import { createTestApp, DATABASES, type TestApp } from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`required verified email and external sign-in (${database.name})`, () => {
    let oidc: TestOidcProvider;
    let t: TestApp;
    before(async () => {
      oidc = await startOidcProvider();
      t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_REQUIRE_VERIFIED_EMAIL: 'true',
          // Google is trusted to verify addresses; "corp" is not (GATEHOUSE_OIDC_CORP_TRUST_EMAIL unset).
          GATEHOUSE_GOOGLE_ISSUER: oidc.issuer,
          GATEHOUSE_GOOGLE_CLIENT_ID: 'google-client',
          GATEHOUSE_GOOGLE_CLIENT_SECRET: 'google-secret',
          GATEHOUSE_OIDC_CORP_ISSUER: oidc.issuer,
          GATEHOUSE_OIDC_CORP_CLIENT_ID: 'corp-client',
          GATEHOUSE_OIDC_CORP_CLIENT_SECRET: 'corp-secret',
        },
      });
    });
    after(async () => {
      await t.close();
      await oidc.close();
    });

    /** Signs in at `provider` with an ID token of `claims`, as the app its SDK signed in would. */
    const exchange = async (provider: 'google' | 'corp', claims: Record<string, unknown>) =>
      tokenRequest(t.app, {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await providerIdToken(oidc, { aud: `${provider}-client`, ...claims }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        provider,
      });

    const assertNotVerified = (response: { statusCode: number; json(): Record<string, unknown> }) => {
      assert.equal(response.statusCode, 400);
      assert.deepEqual(
        [response.json().error, response.json().error_description],
        ['invalid_grant', 'Email not verified'],
      );
    };

    const mailTo = async (address: string) =>
      (await t.gatehouse.store.db.selectFrom('mail_outbox').selectAll().execute()).filter((row) =>
        JSON.stringify(row).includes(address),
      );

    test('a new account from an address the trusted provider verified signs in at once', async () => {
      const response = await exchange('google', {
        sub: 'g-1',
        email: 'vouched@example.com',
        email_verified: true,
      });
      assert.equal(response.statusCode, 200, response.body);
    });

    test('an address the trusted provider has not verified: refused and sent a link; signed in once the provider vouches for it', async () => {
      const claims = { sub: 'g-2', email: 'unverified@example.com', email_verified: false };
      assertNotVerified(await exchange('google', claims));
      const user = await t.gatehouse.accounts.findByLogin('unverified@example.com');
      assert.equal(user?.emailVerified, false, 'the account exists, unverified');
      assert.equal((await mailTo('unverified@example.com')).length, 1, 'a verification link was sent');
      assertNotVerified(await exchange('google', claims));
      const vouched = await exchange('google', { ...claims, email_verified: true });
      assert.equal(vouched.statusCode, 200, vouched.body);
    });

    test('a provider not trusted to verify addresses does not vouch: the account signs in after the emailed link', async () => {
      const claims = { sub: 'c-1', email: 'corp@example.com', email_verified: true };
      assertNotVerified(await exchange('corp', claims));
      const user = await t.gatehouse.accounts.findByLogin('corp@example.com');
      assert.ok(user);
      assert.equal(user.emailVerified, false);
      assert.equal((await mailTo('corp@example.com')).length, 1);
      const verified = await t.app.inject({
        method: 'POST',
        url: '/verify',
        payload: { token: await storeEmailToken(t, 'verify', user) },
      });
      assert.equal(verified.statusCode, 204, verified.body);
      const response = await exchange('corp', claims);
      assert.equal(response.statusCode, 200, response.body);
    });
  });
}
