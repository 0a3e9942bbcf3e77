/**
 * Consent remembered per user, client and scope set (a new scope asks again; Deny answers
 * access_denied; the form needs the session's CSRF token), and ID tokens signed with each
 * client's registered algorithm from keys the JWKS lists and upkeep rotates. SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { DATABASES } from '../support/gatehouse.ts';
import {
  authorizationRequest,
  authorizeWithCookie,
  cookieSignIn,
  type Provider,
  startProvider,
} from './provider-support.ts';

const CALLBACK = 'https://app.example.com/callback';

for (const database of DATABASES) {
  describe(`OpenID Provider consent and ID-token keys (${database.name})`, () => {
    let provider: Provider;
    let cookie: string;

    before(async () => {
      provider = await startProvider(database.url);
      cookie = await cookieSignIn(provider.t.app, 'alice');
    });
    after(() => provider?.close());

    /** The consent form's post, as the browser sends it from the page. */
    async function decide(page: string, decision: 'allow' | 'deny', csrf?: string) {
      const fields = new URLSearchParams();
      for (const [, name, value] of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
        fields.append(
          name ?? '',
          (value ?? '').replaceAll('&amp;', '&').replaceAll('&#39;', "'").replaceAll('&quot;', '"'),
        );
      }
      if (csrf !== undefined) fields.set('csrf_token', csrf);
      fields.set('decision', decision);
      const response = await provider.t.app.inject({
        method: 'POST',
        url: '/authorize/consent',
        headers: {
          cookie,
          origin: provider.issuer,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'text/html',
        },
        payload: fields.toString(),
      });
      const location = response.headers.location;
      return {
        response,
        location: typeof location === 'string' ? new URL(location, provider.issuer) : undefined,
      };
    }

    test('consent is asked once per scope set, again for a new scope; Deny is access_denied; the form needs its CSRF token', async () => {
      const app = await provider.register({ client_name: 'Photo printer', redirect_uris: [CALLBACK] });
      const rp = await provider.relyingParty(app.clientId, app.clientSecret);
      const first = await authorizationRequest(rp, CALLBACK, { scope: 'openid profile' });
      const asked = await authorizeWithCookie(provider.t.app, cookie, first.url);
      assert.equal(asked.response.statusCode, 200);
      assert.match(asked.response.body, /Allow Photo printer\?/);
      assert.match(asked.response.body, /See your name and username/);
      assert.match(
        String(asked.response.headers['content-security-policy']),
        /form-action 'self' https:\/\/app\.example\.com/,
      );

      const forged = await decide(asked.response.body, 'allow', 'not-the-token');
      assert.equal(forged.response.statusCode, 403);
      assert.equal(forged.location, undefined);

      const allowed = await decide(asked.response.body, 'allow');
      assert.equal(allowed.response.statusCode, 303);
      const tokens = await client.authorizationCodeGrant(rp, allowed.location as URL, first.checks);
      assert.equal(tokens.claims()?.preferred_username, 'alice');

      const again = await authorizationRequest(rp, CALLBACK, { scope: 'profile openid' });
      const remembered = await authorizeWithCookie(provider.t.app, cookie, again.url);
      assert.ok(remembered.location?.searchParams.get('code'), 'the same scope set: no second consent');
      const fewer = await authorizationRequest(rp, CALLBACK, { scope: 'openid' });
      assert.ok(
        (await authorizeWithCookie(provider.t.app, cookie, fewer.url)).location?.searchParams.get('code'),
      );

      const more = await authorizationRequest(rp, CALLBACK, { scope: 'openid profile email' });
      const askedAgain = await authorizeWithCookie(provider.t.app, cookie, more.url);
      assert.equal(askedAgain.response.statusCode, 200, 'a new scope asks again');
      const denied = await decide(askedAgain.response.body, 'deny');
      assert.equal(denied.location?.searchParams.get('error'), 'access_denied');
      assert.equal(denied.location?.searchParams.get('state'), more.checks.expectedState);
      assert.equal(denied.location?.searchParams.get('iss'), provider.issuer);

      const forced = await authorizationRequest(rp, CALLBACK, { scope: 'openid profile', prompt: 'consent' });
      assert.equal((await authorizeWithCookie(provider.t.app, cookie, forced.url)).response.statusCode, 200);
    });

    test('a form-posted authorization request is sent on as the same GET; without client_id it is 400', async () => {
      const form = { client_id: 'some-client', response_type: 'code', scope: 'openid' };
      const posted = await provider.t.app.inject({
        method: 'POST',
        url: '/authorize',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        payload: new URLSearchParams(form).toString(),
      });
      assert.equal(posted.statusCode, 303);
      assert.equal(posted.headers.location, `/authorize?${new URLSearchParams(form)}`);
      const empty = await provider.t.app.inject({
        method: 'POST',
        url: '/authorize',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: '',
      });
      assert.equal(empty.statusCode, 400);
      assert.equal(empty.json().error, 'invalid_request');
    });

    test('ID tokens are signed with the client’s algorithm; the JWKS lists the key; upkeep rotates every ring', async () => {
      for (const alg of ['ES256', 'EdDSA', 'RS256']) {
        const app = await provider.register({
          client_name: `${alg} app`,
          redirect_uris: [CALLBACK],
          skip_consent: true,
          id_token_signed_response_alg: alg,
        });
        const rp = await provider.relyingParty(app.clientId, app.clientSecret, {
          id_token_signed_response_alg: alg,
        });
        client.enableNonRepudiationChecks(rp);
        const request = await authorizationRequest(rp, CALLBACK);
        const { location } = await authorizeWithCookie(provider.t.app, cookie, request.url);
        const tokens = await client.authorizationCodeGrant(rp, location as URL, request.checks);
        const header = JSON.parse(Buffer.from(tokens.id_token?.split('.')[0] ?? '', 'base64url').toString());
        assert.equal(header.alg, alg);
        assert.equal(header.typ, 'JWT');
      }
      const algsOf = async () =>
        (await provider.t.app.inject({ url: '/.well-known/jwks.json' }))
          .json()
          .keys.map((k: { alg: string; kid: string }) => k);
      const before = await algsOf();
      assert.deepEqual([...new Set(before.map((k: { alg: string }) => k.alg))].sort(), [
        'ES256',
        'EdDSA',
        'RS256',
      ]);
      provider.t.clock.advance(91 * 86_400_000);
      await provider.t.gatehouse.runMaintenance();
      const rs256 = (keys: { alg: string; kid: string }[]) =>
        keys.filter((k) => k.alg === 'RS256').map((k) => k.kid);
      const after = await algsOf();
      assert.equal(rs256(after).length, 2, 'a new RS256 key beside the retired one');
      assert.ok(rs256(before).every((kid: string) => rs256(after).includes(kid)));
    });
  });
}
