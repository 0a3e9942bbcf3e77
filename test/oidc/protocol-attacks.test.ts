/**
 * The authorization code flow against attacks, with openid-client as the relying party where a
 * library's checks are the point: PKCE missing, plain or wrong; code replay (and the revocation it
 * triggers); redirect URIs not exactly registered; another client's code; client_credentials for
 * a public client; scopes beyond the allowance; nonce, ID-token signature, at_hash and iss checked
 * by openid-client; pushed requests used once. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { createVerifier } from '../../src/verify/index.ts';
import { DATABASES } from '../support/gatehouse.ts';
import {
  authorizationRequest,
  authorizeWithCookie,
  cookieSignIn,
  type Provider,
  startProvider,
} from './provider-support.ts';

const CALLBACK = 'https://app.example.com/callback';

/** openid-client refused, and its reason (the error or its cause) says `why`. */
async function refusedBecause(promise: Promise<unknown>, why: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error & { cause?: { message?: string } }) => {
    assert.match(`${error.message} ${error.cause?.message ?? ''}`, why);
    return true;
  });
}

for (const database of DATABASES) {
  describe(`OpenID Provider protocol attacks (${database.name})`, () => {
    let provider: Provider;
    let web: { clientId: string; clientSecret: string | undefined };
    let other: { clientId: string; clientSecret: string | undefined };
    let rp: client.Configuration;
    let otherRp: client.Configuration;
    let cookie: string;

    /** A code for `rp` from the signed-in browser (consent skipped: first-party client). */
    async function codeFor(config: client.Configuration, extra: Record<string, string> = {}) {
      const request = await authorizationRequest(config, CALLBACK, extra);
      const { location } = await authorizeWithCookie(provider.t.app, cookie, request.url);
      assert.ok(location, 'the authorization endpoint redirects');
      return { callback: location, checks: request.checks };
    }

    const token = (
      fields: Record<string, string>,
      auth?: { clientId: string; clientSecret?: string | undefined },
    ) =>
      provider.t.app.inject({
        method: 'POST',
        url: '/token',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(auth?.clientSecret
            ? {
                authorization: `Basic ${Buffer.from(`${auth.clientId}:${auth.clientSecret}`).toString('base64')}`,
              }
            : {}),
        },
        payload: new URLSearchParams(fields).toString(),
      });

    before(async () => {
      provider = await startProvider(database.url);
      const firstParty = {
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access',
        skip_consent: true,
      };
      web = await provider.register({
        client_name: 'Dashboard',
        audience: 'https://api.example.com',
        ...firstParty,
      });
      other = await provider.register({ client_name: 'Other app', ...firstParty });
      rp = await provider.relyingParty(web.clientId, web.clientSecret);
      otherRp = await provider.relyingParty(other.clientId, other.clientSecret);
      cookie = await cookieSignIn(provider.t.app, 'alice');
    });
    after(() => provider?.close());

    test('PKCE is required and only S256: a missing or plain challenge is refused at the redirect URI', async () => {
      const base = {
        client_id: web.clientId,
        redirect_uri: CALLBACK,
        response_type: 'code',
        scope: 'openid',
        state: 's1',
      };
      const attempts: Record<string, string>[] = [
        {},
        { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' },
        { code_challenge: 'a'.repeat(43) },
      ];
      for (const pkce of attempts) {
        const { location } = await authorizeWithCookie(
          provider.t.app,
          cookie,
          `${provider.issuer}/authorize?${new URLSearchParams({ ...base, ...pkce })}`,
        );
        assert.equal(location?.origin, 'https://app.example.com');
        assert.equal(location?.searchParams.get('error'), 'invalid_request');
        assert.equal(location?.searchParams.get('state'), 's1');
        assert.equal(location?.searchParams.get('iss'), provider.issuer);
        assert.equal(location?.searchParams.get('code'), null);
      }
    });

    test('a wrong code_verifier is invalid_grant', async () => {
      const { callback, checks } = await codeFor(rp);
      await assert.rejects(
        client.authorizationCodeGrant(rp, callback, {
          ...checks,
          pkceCodeVerifier: client.randomPKCECodeVerifier(),
        }),
        { error: 'invalid_grant' },
      );
    });

    test('a replayed code is refused and revokes the tokens of its first redemption', async () => {
      const { callback, checks } = await codeFor(rp, { scope: 'openid offline_access' });
      const tokens = await client.authorizationCodeGrant(rp, callback, checks);
      const sub = tokens.claims()?.sub ?? '';
      await client.fetchUserInfo(rp, tokens.access_token, sub);
      await assert.rejects(client.authorizationCodeGrant(rp, callback, checks), { error: 'invalid_grant' });
      await assert.rejects(
        client.fetchUserInfo(rp, tokens.access_token, sub),
        (error: Error & { status?: number }) => {
          assert.equal(error.status, 401);
          return true;
        },
      );
      await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
    });

    test('redirect URIs must match exactly: a suffix, another port, a fragment or a prefix are shown an error, never redirected', async () => {
      const request = await authorizationRequest(rp, CALLBACK);
      for (const redirect of [
        `${CALLBACK}/evil`,
        `${CALLBACK}x`,
        'https://app.example.com:8443/callback',
        `${CALLBACK}#fragment`,
        'https://app.example.com/',
        'https://evil.example.com/callback',
      ]) {
        const url = new URL(request.url);
        url.searchParams.set('redirect_uri', redirect);
        const { response, location } = await authorizeWithCookie(provider.t.app, cookie, url);
        assert.equal(response.statusCode, 400, redirect);
        assert.equal(location, undefined, `${redirect}: no redirect`);
        assert.equal(response.json().error, 'invalid_request');
      }
      const url = new URL(request.url);
      url.searchParams.set('client_id', 'no-such-client');
      const page = await provider.t.app.inject({
        url: `${url.pathname}${url.search}`,
        headers: { cookie, accept: 'text/html' },
      });
      assert.equal(page.statusCode, 400);
      assert.equal(page.headers.location, undefined);
      assert.match(page.body, /This sign-in link does not work/);
    });

    test('a client cannot redeem another client’s code, nor refresh with its refresh token', async () => {
      const { callback, checks } = await codeFor(rp, { scope: 'openid offline_access' });
      await assert.rejects(client.authorizationCodeGrant(otherRp, callback, checks), {
        error: 'invalid_grant',
      });
      // The code was not spent by the attempt: its client still redeems it.
      const tokens = await client.authorizationCodeGrant(rp, callback, checks);
      await assert.rejects(client.refreshTokenGrant(otherRp, tokens.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
      // Nor without authenticating as its client, nor at Gatehouse's own refresh grant.
      const bare = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token ?? '' });
      assert.equal(bare.statusCode, 401);
      assert.equal(bare.json().error, 'invalid_client');
      await client.refreshTokenGrant(rp, tokens.refresh_token ?? '');
    });

    test('a public client cannot use client_credentials; a client cannot use another’s secret', async () => {
      const spa = await provider.register({
        client_name: 'SPA',
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: 'none',
      });
      const refused = await token({ grant_type: 'client_credentials', client_id: spa.clientId });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().error, 'unauthorized_client');
      const borrowed = await token(
        { grant_type: 'client_credentials' },
        { clientId: web.clientId, clientSecret: other.clientSecret },
      );
      assert.equal(borrowed.statusCode, 401);
      assert.equal(borrowed.json().error, 'invalid_client');
    });

    test('scopes beyond the client’s allowance are invalid_scope', async () => {
      const narrow = await provider.register({
        client_name: 'Narrow',
        redirect_uris: [CALLBACK],
        scope: 'openid',
      });
      const narrowRp = await provider.relyingParty(narrow.clientId, narrow.clientSecret);
      const request = await authorizationRequest(narrowRp, CALLBACK, { scope: 'openid email' });
      const { location } = await authorizeWithCookie(provider.t.app, cookie, request.url);
      assert.equal(location?.searchParams.get('error'), 'invalid_scope');
      await assert.rejects(client.authorizationCodeGrant(narrowRp, location as URL, request.checks), {
        error: 'invalid_scope',
      });
    });

    test('nonce, ID-token signature, at_hash and iss are checked by openid-client', async () => {
      const good = await codeFor(rp);
      const tokens = await client.authorizationCodeGrant(rp, good.callback, good.checks);
      assert.equal(tokens.claims()?.nonce, good.checks.expectedNonce, 'the nonce is echoed');
      assert.equal(typeof tokens.claims()?.at_hash, 'string');

      const wrongNonce = await codeFor(rp);
      await refusedBecause(
        client.authorizationCodeGrant(rp, wrongNonce.callback, {
          ...wrongNonce.checks,
          expectedNonce: 'another',
        }),
        /nonce/,
      );

      // An answer carrying another issuer's `iss` (a mix-up) is refused before the code is used.
      const mixUp = await codeFor(rp);
      const forged = new URL(mixUp.callback);
      forged.searchParams.set('iss', 'https://attacker.example.com');
      await refusedBecause(client.authorizationCodeGrant(rp, forged, mixUp.checks), /iss/);

      // A tampered ID token: openid-client checks its signature against the JWKS (non-repudiation
      // checks on; OIDC Core §3.1.3.7 lets a client skip it over TLS, which openid-client does by default).
      const answer = await codeFor(rp);
      const config = await provider.relyingParty(web.clientId, web.clientSecret);
      client.enableNonRepudiationChecks(config);
      config[client.customFetch] = async (url, options) => {
        const response = await fetch(url, options as RequestInit);
        if (!String(url).endsWith('/token')) return response;
        const body = (await response.json()) as { id_token: string };
        const [header = '', payload = '', signature = ''] = body.id_token.split('.');
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
        const forgedPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString(
          'base64url',
        );
        body.id_token = `${header}.${forgedPayload}.${signature}`;
        return new Response(JSON.stringify(body), { status: 200, headers: response.headers });
      };
      await refusedBecause(
        client.authorizationCodeGrant(config, answer.callback, answer.checks),
        /signature/,
      );

      // at_hash: openid-client v6 does not check it in the code flow (optional there, Core §3.1.3.6),
      // so the test does: the left half of the access token's SHA-256 (RS256).
      const digest = createHash('sha256').update(tokens.access_token).digest();
      assert.equal(tokens.claims()?.at_hash, digest.subarray(0, 16).toString('base64url'));
      const { payload } = await jwtVerify(
        tokens.id_token ?? '',
        createRemoteJWKSet(new URL(`${provider.issuer}/.well-known/jwks.json`)),
        {
          issuer: provider.issuer,
          audience: web.clientId,
          algorithms: ['RS256'],
        },
      );
      assert.equal(payload.sub, tokens.claims()?.sub);
    });

    test('access tokens to a client carry its audience, and the resource server accepts them for it', async () => {
      const { callback, checks } = await codeFor(rp, { scope: 'openid profile' });
      const tokens = await client.authorizationCodeGrant(rp, callback, checks);
      const payload = JSON.parse(
        Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString(),
      );
      assert.equal(payload.aud, 'https://api.example.com');
      assert.equal(payload.client_id, web.clientId);
      const api = createVerifier({ issuer: provider.issuer, audience: 'https://api.example.com' });
      const verdict = await api.verifyRequest({ authorization: `Bearer ${tokens.access_token}` });
      assert.equal(verdict.ok, true);
      const gatehouseItself = createVerifier({ issuer: provider.issuer });
      assert.equal(
        (await gatehouseItself.verifyRequest({ authorization: `Bearer ${tokens.access_token}` })).ok,
        false,
      );
      // An ID token is no access token anywhere (typ, audience).
      assert.equal((await api.verifyRequest({ authorization: `Bearer ${tokens.id_token}` })).ok, false);
    });

    test('a pushed request is used once; a client that must push cannot skip it', async () => {
      const url = await client.buildAuthorizationUrlWithPAR(rp, {
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
      const first = await authorizeWithCookie(provider.t.app, cookie, url);
      assert.ok(first.location?.searchParams.get('code'));
      const second = await authorizeWithCookie(provider.t.app, cookie, url);
      assert.equal(second.response.statusCode, 400);
      assert.equal(second.location, undefined);
      assert.equal(second.response.json().error, 'invalid_request_uri');

      const strict = await provider.register({
        client_name: 'Strict',
        redirect_uris: [CALLBACK],
        require_pushed_authorization_requests: true,
      });
      const strictRp = await provider.relyingParty(strict.clientId, strict.clientSecret);
      const direct = await authorizationRequest(strictRp, CALLBACK);
      const refused = await authorizeWithCookie(provider.t.app, cookie, direct.url);
      assert.equal(refused.response.statusCode, 400);
      assert.equal(refused.location, undefined);
    });

    test('prompt=none without consent is consent_required; prompt=login and max_age=0 send the browser to sign in', async () => {
      const thirdParty = await provider.register({ client_name: 'Third party', redirect_uris: [CALLBACK] });
      const thirdRp = await provider.relyingParty(thirdParty.clientId, thirdParty.clientSecret);
      const silent = await authorizationRequest(thirdRp, CALLBACK, { prompt: 'none' });
      const { location } = await authorizeWithCookie(provider.t.app, cookie, silent.url);
      assert.equal(location?.searchParams.get('error'), 'consent_required');
      const asks: Record<string, string>[] = [
        { prompt: 'login' },
        { max_age: '0' },
        { acr_values: 'urn:gatehouse:acr:mfa' },
      ];
      for (const extra of asks) {
        provider.t.clock.advance(1000);
        const request = await authorizationRequest(rp, CALLBACK, extra);
        const answer = await authorizeWithCookie(provider.t.app, cookie, request.url);
        assert.equal(answer.location?.pathname, '/login', JSON.stringify(extra));
        assert.match(answer.location?.searchParams.get('return_to') ?? '', /^\/authorize\?/);
      }
    });
  });
}
