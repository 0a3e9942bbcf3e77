/**
 * The provider's metadata (Discovery and RFC 8414 say the same, and advertise only what works),
 * `/userinfo`'s RFC 6750 answers, a code's 60 seconds, and a forced new sign-in (prompt=login)
 * that ends once the browser has signed in again. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { ENCRYPTION_KEY, enrolTotp } from '../factors/support.ts';
import { DATABASES, login, PASSWORD } from '../support/gatehouse.ts';
import {
  authorizationRequest,
  authorizeWithCookie,
  cookieSignIn,
  type Provider,
  startProvider,
} from './provider-support.ts';

const CALLBACK = 'https://app.example.com/callback';

for (const database of DATABASES) {
  describe(`OpenID Provider endpoints (${database.name})`, () => {
    let provider: Provider;
    let rp: client.Configuration;

    before(async () => {
      provider = await startProvider(database.url, { GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY });
      const app = await provider.register({
        client_name: 'Dashboard',
        redirect_uris: [CALLBACK],
        skip_consent: true,
        grant_types: ['authorization_code', 'refresh_token'],
      });
      rp = await provider.relyingParty(app.clientId, app.clientSecret);
    });
    after(() => provider?.close());

    test('discovery advertises the code flow with S256, iss in responses, the endpoints that exist and no logout yet', async () => {
      const get = async (path: string) => (await provider.t.app.inject({ url: path })).json();
      const oidc = await get('/.well-known/openid-configuration');
      assert.deepEqual(await get('/.well-known/oauth-authorization-server'), oidc);
      const { issuer } = provider;
      assert.equal(oidc.issuer, issuer);
      assert.equal(oidc.authorization_endpoint, `${issuer}/authorize`);
      assert.equal(oidc.userinfo_endpoint, `${issuer}/userinfo`);
      assert.equal(oidc.pushed_authorization_request_endpoint, `${issuer}/par`);
      assert.deepEqual(oidc.response_types_supported, ['code']);
      assert.deepEqual(oidc.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(oidc.subject_types_supported, ['public']);
      assert.deepEqual(oidc.prompt_values_supported, ['none', 'login', 'consent']);
      assert.ok(oidc.id_token_signing_alg_values_supported.includes('RS256'));
      assert.equal(oidc.authorization_response_iss_parameter_supported, true);
      assert.equal(oidc.request_uri_parameter_supported, false);
      for (const scope of ['openid', 'profile', 'email', 'offline_access'])
        assert.ok(oidc.scopes_supported.includes(scope));
      assert.equal(oidc.end_session_endpoint, undefined, 'logout is not advertised before it works');
      assert.equal(oidc.backchannel_logout_supported, undefined);
      assert.deepEqual(client.getJwksCache(rp), undefined);
      assert.equal(rp.serverMetadata().issuer, issuer);
    });

    test('/userinfo answers 401 with WWW-Authenticate without a valid token, 403 without openid', async () => {
      const none = await provider.t.app.inject({ url: '/userinfo' });
      assert.equal(none.statusCode, 401);
      assert.equal(none.headers['www-authenticate'], 'Bearer');
      const bad = await provider.t.app.inject({
        url: '/userinfo',
        headers: { authorization: 'Bearer not.a.token' },
      });
      assert.equal(bad.statusCode, 401);
      assert.equal(bad.headers['www-authenticate'], 'Bearer error="invalid_token"');
      const firstParty = await login(provider.t.app, 'alice');
      const noOpenid = await provider.t.app.inject({
        method: 'POST',
        url: '/userinfo',
        headers: { authorization: `Bearer ${firstParty}` },
      });
      assert.equal(noOpenid.statusCode, 403);
      assert.match(String(noOpenid.headers['www-authenticate']), /insufficient_scope.*openid/);
    });

    test('a code lives 60 seconds', async () => {
      const cookie = await cookieSignIn(provider.t.app, 'alice');
      const request = await authorizationRequest(rp, CALLBACK);
      const { location } = await authorizeWithCookie(provider.t.app, cookie, request.url);
      provider.t.clock.advance(61_000);
      await assert.rejects(client.authorizationCodeGrant(rp, location as URL, request.checks), {
        error: 'invalid_grant',
      });
    });

    test('prompt=login sends a signed-in browser to sign in, and its return path then answers with a code', async () => {
      const cookie = await cookieSignIn(provider.t.app, 'alice');
      const request = await authorizationRequest(rp, CALLBACK, { prompt: 'login' });
      const first = await authorizeWithCookie(provider.t.app, cookie, request.url);
      assert.equal(first.location?.pathname, '/login');
      const returnTo = first.location?.searchParams.get('return_to') ?? '';
      // The same browser, its session unchanged: still asked to sign in.
      const unchanged = await authorizeWithCookie(provider.t.app, cookie, `${provider.issuer}${returnTo}`);
      assert.equal(unchanged.location?.pathname, '/login');
      provider.t.clock.advance(1000);
      const again = await cookieSignIn(provider.t.app, 'alice');
      const answered = await authorizeWithCookie(provider.t.app, again, `${provider.issuer}${returnTo}`);
      assert.ok(answered.location?.searchParams.get('code'), 'signed in again: a code');
      const tokens = await client.authorizationCodeGrant(rp, answered.location as URL, request.checks);
      assert.equal(tokens.claims()?.auth_time, Math.floor(provider.t.clock.now() / 1000));
    });

    test('acr_values=urn:gatehouse:acr:mfa: a one-factor session signs in again; an account without a factor is refused; with one, acr says so', async () => {
      const mfa = { acr_values: 'urn:gatehouse:acr:mfa' };
      const oneFactor = await cookieSignIn(provider.t.app, 'alice');
      const request = await authorizationRequest(rp, CALLBACK, mfa);
      const asked = await authorizeWithCookie(provider.t.app, oneFactor, request.url);
      assert.equal(asked.location?.pathname, '/login');
      const returnTo = `${provider.issuer}${asked.location?.searchParams.get('return_to')}`;
      provider.t.clock.advance(1000);
      const again = await cookieSignIn(provider.t.app, 'alice');
      const refused = await authorizeWithCookie(provider.t.app, again, returnTo);
      assert.equal(refused.location?.searchParams.get('error'), 'access_denied');
      const silent = await authorizationRequest(rp, CALLBACK, { ...mfa, prompt: 'none' });
      const silentAnswer = await authorizeWithCookie(provider.t.app, again, silent.url);
      assert.equal(silentAnswer.location?.searchParams.get('error'), 'interaction_required');

      await provider.t.gatehouse.accounts.register({
        username: 'carol',
        email: 'carol@example.com',
        password: PASSWORD,
      });
      const { secret } = await enrolTotp(provider.t, await login(provider.t.app, 'carol'));
      const first = await provider.t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'carol', password: PASSWORD },
      });
      const second = await provider.t.app.inject({
        method: 'POST',
        url: '/login/mfa',
        payload: { mfa_token: first.json().mfa_token, otp: totpCode(secret, provider.t.clock.now()) },
      });
      assert.equal(second.statusCode, 200, second.body);
      const twoFactors = second.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      const withMfa = await authorizationRequest(rp, CALLBACK, mfa);
      const answered = await authorizeWithCookie(provider.t.app, twoFactors, withMfa.url);
      const tokens = await client.authorizationCodeGrant(rp, answered.location as URL, withMfa.checks);
      assert.equal(tokens.claims()?.acr, 'urn:gatehouse:acr:mfa');
      assert.ok(((tokens.claims()?.amr ?? []) as string[]).includes('mfa'));
    });

    test('removing a client ends the sessions issued to it, with or without a refresh token', async () => {
      const gone = await provider.register({
        client_name: 'Soon gone',
        redirect_uris: [CALLBACK],
        skip_consent: true,
      });
      const goneRp = await provider.relyingParty(gone.clientId, gone.clientSecret);
      const cookie = await cookieSignIn(provider.t.app, 'alice');
      const request = await authorizationRequest(goneRp, CALLBACK);
      const { location } = await authorizeWithCookie(provider.t.app, cookie, request.url);
      const tokens = await client.authorizationCodeGrant(goneRp, location as URL, request.checks);
      assert.equal(tokens.refresh_token, undefined);
      const userinfo = () =>
        provider.t.app.inject({
          url: '/userinfo',
          headers: { authorization: `Bearer ${tokens.access_token}` },
        });
      assert.equal((await userinfo()).statusCode, 200);
      const removed = await provider.t.app.inject({
        method: 'DELETE',
        url: `/clients/${gone.clientId}`,
        headers: { authorization: `Bearer ${provider.adminToken}` },
      });
      assert.equal(removed.statusCode, 204, removed.body);
      assert.equal((await userinfo()).statusCode, 401);
    });
  });
}
