/** External sign-in settings: complete or a start-up error naming what is missing; https issuers. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, configFromOptions, loadConfig } from '../../src/config.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('external sign-in settings', () => {
  test('Google and GitHub need their id and secret together; the missing one is named', () => {
    assert.deepEqual(problemsOf({ GATEHOUSE_GOOGLE_CLIENT_ID: 'id' }), [
      'GATEHOUSE_GOOGLE_CLIENT_SECRET is required when GATEHOUSE_GOOGLE_CLIENT_ID is set',
    ]);
    assert.deepEqual(problemsOf({ GATEHOUSE_GITHUB_CLIENT_SECRET: 'secret' }), [
      'GATEHOUSE_GITHUB_CLIENT_SECRET needs GATEHOUSE_GITHUB_CLIENT_ID too',
    ]);
    const config = loadConfig({
      GATEHOUSE_GOOGLE_CLIENT_ID: 'web, android',
      GATEHOUSE_GOOGLE_CLIENT_SECRET: 's',
    });
    assert.deepEqual(config.googleClientId, ['web', 'android']);
  });

  test('a generic provider names each missing setting', () => {
    assert.deepEqual(problemsOf({ GATEHOUSE_OIDC_KEYCLOAK_ISSUER: 'https://id.example.com/realms/a' }), [
      'GATEHOUSE_OIDC_KEYCLOAK_CLIENT_ID is required to configure provider "keycloak"',
      'GATEHOUSE_OIDC_KEYCLOAK_CLIENT_SECRET is required to configure provider "keycloak"',
    ]);
  });

  test('issuers must be https, except on localhost', () => {
    const base = { GATEHOUSE_OIDC_KC_CLIENT_ID: 'c', GATEHOUSE_OIDC_KC_CLIENT_SECRET: 's' };
    assert.deepEqual(problemsOf({ ...base, GATEHOUSE_OIDC_KC_ISSUER: 'http://id.example.com' }), [
      'GATEHOUSE_OIDC_KC_ISSUER must be an https URL (plain http only for localhost or 127.0.0.1)',
    ]);
    assert.deepEqual(problemsOf({ GATEHOUSE_GITHUB_URL: 'http://github.example.com' }), [
      'GATEHOUSE_GITHUB_URL must be an https URL (plain http only for localhost or 127.0.0.1)',
    ]);
    for (const issuer of ['http://localhost:8080', 'http://127.0.0.1:9000/realm', 'https://id.example.com']) {
      const config = loadConfig({
        ...base,
        GATEHOUSE_OIDC_KC_ISSUER: issuer,
        GATEHOUSE_OIDC_KC_TRUST_EMAIL: 'true',
      });
      assert.equal(config.oidcProviders.kc?.issuer, issuer);
      assert.equal(config.oidcProviders.kc?.trustEmail, true);
    }
  });

  test('client ids, display names and base URLs follow the shared rules of the other settings', () => {
    const base = { GATEHOUSE_OIDC_KC_ISSUER: 'https://id.example.com', GATEHOUSE_OIDC_KC_CLIENT_SECRET: 's' };
    assert.deepEqual(
      problemsOf({
        ...base,
        GATEHOUSE_OIDC_KC_CLIENT_ID: 'c',
        GATEHOUSE_OIDC_KC_DISPLAY_NAME: 'x'.repeat(41),
      }),
      ['GATEHOUSE_OIDC_KC_DISPLAY_NAME must be at most 40 characters, no control characters'],
    );
    assert.deepEqual(problemsOf({ GATEHOUSE_APP_NAME: 'a\u0007b' }), [
      'GATEHOUSE_APP_NAME must be at most 80 characters, no control characters',
    ]);
    assert.equal(
      problemsOf({ GATEHOUSE_GOOGLE_CLIENT_ID: 'web,has space', GATEHOUSE_GOOGLE_CLIENT_SECRET: 's' })[0],
      'GATEHOUSE_GOOGLE_CLIENT_ID must be client ids separated by commas',
    );
    assert.deepEqual(problemsOf({ GATEHOUSE_METRICS_TOKEN: 'short' }), [
      'GATEHOUSE_METRICS_TOKEN must be 16 to 256 printable ASCII characters without spaces',
    ]);
    const config = loadConfig({
      ...base,
      GATEHOUSE_OIDC_KC_CLIENT_ID: 'c',
      GATEHOUSE_OIDC_KC_DISPLAY_NAME: '  Corp SSO ',
      GATEHOUSE_GITHUB_URL: 'https://github.example.com//',
    });
    assert.equal(config.oidcProviders.kc?.displayName, 'Corp SSO');
    assert.equal(config.githubUrl, 'https://github.example.com');
  });

  test('a generic provider may not take a built-in name; unknown suffixes are still typos', () => {
    const problems = problemsOf({
      GATEHOUSE_OIDC_GOOGLE_ISSUER: 'https://accounts.google.com',
      GATEHOUSE_OIDC_KC_ISSUR: 'https://id.example.com',
    });
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /GATEHOUSE_OIDC_GOOGLE_ISSUER names a built-in provider/);
    assert.match(problems[1] ?? '', /GATEHOUSE_OIDC_KC_ISSUR is not a Gatehouse setting/);
  });

  test('the plugin takes the same settings as options, and names a missing one in a TypeError', () => {
    const config = configFromOptions({
      githubClientId: 'gh',
      githubClientSecret: 'ghs',
      oidcProviders: {
        gitlab: { issuer: 'https://gitlab.com', clientId: 'c', clientSecret: 's', scopes: ['email'] },
      },
    });
    assert.equal(config.githubClientId, 'gh');
    assert.deepEqual(config.oidcProviders.gitlab?.scopes, ['email']);
    assert.throws(
      () =>
        configFromOptions({
          oidcProviders: { gitlab: { issuer: 'https://gitlab.com', clientId: 'c' } as never },
        }),
      (error: unknown) =>
        error instanceof TypeError &&
        /option "oidcProviders" gitlab.clientSecret is required/.test(error.message),
    );
  });
});
