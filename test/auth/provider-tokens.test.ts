/**
 * GATEHOUSE_OAUTH_STORE_TOKENS: the provider's tokens kept encrypted on the identity, for the host
 * app's own calls to the provider; never stored in clear, never served over HTTP, and not at all
 * unless asked for.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createSecretBox } from '../../src/auth/encryption.ts';
import { createTokenVault } from '../../src/auth/external/token-vault.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { signInWith, startOidcProvider, type TestOidcProvider } from '../support/external-providers.ts';
import { createTestApp, DATABASES, type TestApp } from '../support/gatehouse.ts';

const KEY = randomBytes(32).toString('base64');

test('storing tokens needs a 32-byte key, and a bad key is refused without repeating it', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
  };
  assert.deepEqual(problems({ GATEHOUSE_OAUTH_STORE_TOKENS: 'true' }), [
    'GATEHOUSE_OAUTH_STORE_TOKENS needs GATEHOUSE_ENCRYPTION_KEY to encrypt the tokens it keeps',
  ]);
  const secretish = 'not-a-key-but-a-secret-value';
  const refused = problems({ GATEHOUSE_OAUTH_STORE_TOKENS: 'true', GATEHOUSE_ENCRYPTION_KEY: secretish });
  assert.equal(refused.length, 1, refused.join('; '));
  assert.match(refused[0] ?? '', /^GATEHOUSE_ENCRYPTION_KEY /);
  assert.ok(!refused[0]?.includes(secretish), 'the value is not repeated');
  assert.deepEqual(loadConfig({ GATEHOUSE_ENCRYPTION_KEY: 'ab'.repeat(32) }).encryptionKeys, [
    'ab'.repeat(32),
  ]);
});

test('a sealed value opens only for its own identity, under its own key', () => {
  const box = () => createSecretBox([randomBytes(32).toString('hex')]);
  const vault = createTokenVault(box());
  const tokens = { accessToken: 'at', refreshToken: 'rt', expiresAt: 1, scope: 'openid' };
  const sealed = vault.seal('identity-1', tokens);
  assert.deepEqual(vault.open('identity-1', sealed), tokens);
  assert.equal(vault.open('identity-2', sealed), undefined);
  assert.equal(createTokenVault(box()).open('identity-1', sealed), undefined);
  assert.equal(vault.open('identity-1', `${sealed.slice(0, -2)}AA`), undefined);
});

for (const database of DATABASES) {
  describe(`provider tokens (${database.name})`, () => {
    let oidc: TestOidcProvider;
    let stored: TestApp;
    let plain: TestApp;
    const provider = (oidcIssuer: string) => ({
      GATEHOUSE_ISSUER: 'http://localhost:8000',
      GATEHOUSE_OIDC_TEST_ISSUER: oidcIssuer,
      GATEHOUSE_OIDC_TEST_CLIENT_ID: 'tokens-client',
      GATEHOUSE_OIDC_TEST_CLIENT_SECRET: 'tokens-secret',
    });

    before(async () => {
      oidc = await startOidcProvider();
      stored = await createTestApp({
        databaseUrl: database.url,
        env: {
          ...provider(oidc.issuer),
          GATEHOUSE_OAUTH_STORE_TOKENS: 'true',
          GATEHOUSE_ENCRYPTION_KEY: KEY,
        },
      });
      plain = await createTestApp({ databaseUrl: database.url, env: provider(oidc.issuer) });
    });
    after(async () => {
      await stored.close();
      await plain.close();
      await oidc.close();
    });

    async function signedInUser(t: TestApp, sub: string): Promise<string> {
      oidc.claims = { sub, email: `${sub}@example.com`, email_verified: true };
      const done = await signInWith(t.app, 'test');
      const me = await t.app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { cookie: done.cookies.gatehouse_session ?? '' },
      });
      return me.json().id;
    }

    test('with GATEHOUSE_OAUTH_STORE_TOKENS=true the service returns them; the database holds them sealed', async () => {
      let issued = '';
      const listener = (response: { body: Record<string, unknown> }) => {
        issued = String(response.body.access_token);
      };
      oidc.server.service.on('beforeResponse', listener);
      const userId = await signedInUser(stored, 'keeper').finally(() =>
        oidc.server.service.removeListener('beforeResponse', listener),
      );
      const tokens = await stored.gatehouse.externalSignIn.providerTokens(userId, 'test');
      assert.equal(tokens?.accessToken, issued);
      assert.ok(tokens?.refreshToken);
      const rows = await stored.gatehouse.store.db.selectFrom('identities').selectAll().execute();
      assert.ok(rows.every((row) => !String(row.provider_tokens).includes(issued)));
    });

    test('without it nothing is stored', async () => {
      const userId = await signedInUser(plain, 'forgetter');
      assert.equal(await plain.gatehouse.externalSignIn.providerTokens(userId, 'test'), undefined);
      const rows = await plain.gatehouse.store.db
        .selectFrom('identities')
        .select('provider_tokens')
        .where('user_id', '=', userId)
        .execute();
      assert.deepEqual(
        rows.map((row) => row.provider_tokens),
        [null],
      );
    });
  });
}
