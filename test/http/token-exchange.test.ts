/**
 * RFC 8693 token exchange at `POST /token`: an app that signed in with the provider's own SDK
 * trades its ID token for Gatehouse's tokens. Each check of the ID token has an attack test, and
 * an ID token works once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { startOidcProvider, type TestOidcProvider } from '../support/external-providers.ts';
import { createTestApp, DATABASES, type TestApp } from '../support/gatehouse.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

for (const database of DATABASES) {
  describe(`token exchange of a provider's ID token (${database.name})`, () => {
    let oidc: TestOidcProvider;
    let t: TestApp;
    let seq = 0;

    before(async () => {
      oidc = await startOidcProvider();
      t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_GOOGLE_ISSUER: oidc.issuer,
          GATEHOUSE_GOOGLE_CLIENT_ID: 'web-client,android-client',
          GATEHOUSE_GOOGLE_CLIENT_SECRET: 'web-secret',
        },
      });
    });
    after(async () => {
      await t.close();
      await oidc.close();
    });

    /** An ID token as the provider's SDK would hand the app. */
    async function idToken(claims: Record<string, unknown> = {}, expiresIn = 600): Promise<string> {
      seq += 1;
      return oidc.server.issuer.buildToken({
        expiresIn,
        scopesOrTransform: (_header: unknown, payload: Record<string, unknown>) => {
          Object.assign(payload, {
            sub: `native-${seq}`,
            aud: 'android-client',
            email: `native${seq}@example.com`,
            email_verified: true,
            ...claims,
          });
        },
      });
    }

    const exchange = (subjectToken: string, extra: Record<string, string> = {}) =>
      t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: EXCHANGE,
          subject_token: subjectToken,
          subject_token_type: ID_TOKEN,
          provider: 'google',
          ...extra,
        }).toString(),
      });

    const assertRefused = (response: { statusCode: number; json(): { error?: string } }) => {
      assert.equal(response.statusCode, 400);
      assert.equal(response.json().error, 'invalid_request');
    };

    test("an ID token for one of the provider's client ids gets Gatehouse's tokens, marked amr ext", async () => {
      const response = await exchange(await idToken());
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.ok(body.refresh_token);
      const claims = decodeJwt(body.access_token);
      assert.deepEqual(claims.amr, ['ext']);
      assert.equal(claims.provider, 'google');
      const events = await t.gatehouse.audit.list({ userId: String(claims.sub), limit: 10 });
      const login = events.find((e) => e.event === 'login.succeeded');
      assert.equal(login?.details?.method, 'external');
      assert.equal(login?.details?.provider, 'google');
      assert.ok(events.some((e) => e.event === 'identity.linked'));
      const refreshed = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: body.refresh_token,
        }).toString(),
      });
      assert.equal(refreshed.statusCode, 200);
      const again = decodeJwt(refreshed.json().access_token);
      assert.deepEqual(
        [again.amr, again.provider],
        [['ext'], 'google'],
        'a refresh keeps how the session began',
      );
      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /gatehouse_logins_total\{method="external",outcome="success"\} [1-9]/);
      assert.match(metrics.body, /gatehouse_tokens_issued_total\{grant="token_exchange"\} [1-9]/);
    });

    test('the same ID token a second time is refused (replay)', async () => {
      const token = await idToken();
      assert.equal((await exchange(token)).statusCode, 200);
      assertRefused(await exchange(token));
    });

    test('an ID token for another audience', async () => {
      assertRefused(await exchange(await idToken({ aud: 'someone-elses-app' })));
    });

    test('an ID token from another issuer', async () => {
      assertRefused(await exchange(await idToken({ iss: 'https://evil.example' })));
    });

    test('an expired ID token', async () => {
      const token = await idToken({}, 60);
      t.clock.advance(10 * 60_000);
      try {
        assertRefused(await exchange(token));
      } finally {
        t.clock.advance(-10 * 60_000);
      }
    });

    test('an unsigned ID token (alg: none)', async () => {
      const [, payload] = (await idToken()).split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
      assertRefused(await exchange(`${header}.${payload}.`));
    });

    test('an ID token signed with a key the provider does not publish', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      const claims = decodeJwt(await idToken());
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'stranger' })
        .sign(privateKey);
      assertRefused(await exchange(forged));
    });

    test("an ID token signed with the provider's key id but another key", async () => {
      const { privateKey } = await generateKeyPair('RS256');
      const genuine = await idToken();
      const claims = decodeJwt(genuine);
      const kid = JSON.parse(Buffer.from(genuine.split('.')[0] ?? '', 'base64url').toString()).kid;
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
      assertRefused(await exchange(forged));
    });

    test('an unknown provider, or a wrong subject_token_type', async () => {
      assertRefused(await exchange(await idToken(), { provider: 'myspace' }));
      const wrongType = await exchange(await idToken(), {
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      });
      assert.equal(wrongType.statusCode, 400);
    });

    test('a missing subject_token is a 422 naming it', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: EXCHANGE,
          provider: 'google',
          subject_token_type: ID_TOKEN,
        }).toString(),
      });
      assert.equal(response.statusCode, 422);
      assert.deepEqual(response.json().detail[0].loc, ['body', 'subject_token']);
    });
  });
}
