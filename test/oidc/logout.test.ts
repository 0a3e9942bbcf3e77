/**
 * Logout at the OpenID Provider, with openid-client as the relying party: RP-initiated logout
 * (RP-Initiated Logout 1.0: `id_token_hint`, exact `post_logout_redirect_uri`, `state`, the
 * confirmation page and its CSRF defence, no open redirect) and back-channel logout
 * (Back-Channel Logout 1.0: the logout token POSTed to a real HTTP endpoint, checked with jose
 * against the JWKS; a failing receiver is retried and never breaks the user's logout).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';
import * as client from 'openid-client';
import { browserFormHeaders, form } from '../pages/form-client.ts';
import { DATABASES, login, PASSWORD, registerUser } from '../support/gatehouse.ts';
import { formOf, type LogoutReceiver, signInToClient, startLogoutReceiver, visit } from './logout-support.ts';
import { cookieSignIn, type Provider, startProvider } from './provider-support.ts';

const CALLBACK = 'http://127.0.0.1:9/callback';
const AFTER = 'http://127.0.0.1:9/signed-out';
const OTHER_AFTER = 'http://127.0.0.1:9/other/signed-out';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

for (const database of DATABASES) {
  describe(`OpenID Provider logout (${database.name})`, () => {
    let provider: Provider;
    let receiver: LogoutReceiver;
    let web: { clientId: string; clientSecret: string | undefined };
    let notified: { clientId: string; clientSecret: string | undefined };
    let rp: client.Configuration;
    let notifiedRp: client.Configuration;
    let lostRp: client.Configuration;
    let lost: { clientId: string; clientSecret: string | undefined };

    const app = () => provider.t.app;
    const sessionOf = (cookie: string) =>
      app().inject({ method: 'GET', url: '/session', headers: { cookie } });
    /** A new browser session of `username`, signed in to the client of `config`. */
    const signedIn = async (username: string, config: client.Configuration, scope?: string) => {
      const cookie = await cookieSignIn(app(), username);
      return { cookie, tokens: await signInToClient(app(), cookie, config, CALLBACK, scope) };
    };
    const outbox = () =>
      provider.t.gatehouse.store.db.selectFrom('backchannel_logouts').selectAll().orderBy('id').execute();

    before(async () => {
      provider = await startProvider(database.url);
      receiver = await startLogoutReceiver();
      web = await provider.register({
        client_name: 'Dashboard',
        redirect_uris: [CALLBACK],
        post_logout_redirect_uris: [AFTER],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile email offline_access',
        skip_consent: true,
      });
      await provider.register({
        client_name: 'Other app',
        redirect_uris: ['http://127.0.0.1:9/other/callback'],
        post_logout_redirect_uris: [OTHER_AFTER],
        skip_consent: true,
      });
      notified = await provider.register({
        client_name: 'Notified app',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile offline_access',
        skip_consent: true,
        backchannel_logout_uri: receiver.uri,
        id_token_signed_response_alg: 'ES256',
      });
      const gone = await startLogoutReceiver();
      await gone.close();
      lost = await provider.register({
        client_name: 'Gone app',
        redirect_uris: [CALLBACK],
        skip_consent: true,
        backchannel_logout_uri: gone.uri,
      });
      lostRp = await provider.relyingParty(lost.clientId, lost.clientSecret);
      rp = await provider.relyingParty(web.clientId, web.clientSecret);
      notifiedRp = await provider.relyingParty(notified.clientId, notified.clientSecret);
    });
    after(async () => {
      await receiver?.close();
      await provider?.close();
    });

    test('discovery names the end_session_endpoint and back-channel logout with sid', () => {
      const metadata = rp.serverMetadata();
      assert.equal(metadata.end_session_endpoint, `${provider.issuer}/logout`);
      assert.equal(metadata.backchannel_logout_supported, true);
      assert.equal(metadata.backchannel_logout_session_supported, true);
    });

    test('id_token_hint, a registered post_logout_redirect_uri and state: redirected with state; the session, refresh and access tokens end', async () => {
      const { cookie, tokens } = await signedIn('alice', rp);
      const claims = tokens.claims();
      assert.ok(claims && tokens.id_token && tokens.refresh_token);
      const url = client.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: AFTER,
        state: 'after-logout-7',
      });
      assert.equal(`${url.origin}${url.pathname}`, `${provider.issuer}/logout`);
      const { response, location } = await visit(app(), url, cookie);
      assert.equal(response.statusCode, 303);
      assert.equal(location, `${AFTER}?state=after-logout-7`);
      assert.match(String(response.headers['set-cookie']), /gatehouse_session=;/);
      assert.equal((await sessionOf(cookie)).statusCode, 401, 'the browser session ended');
      await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token), { error: 'invalid_grant' });
      await assert.rejects(client.fetchUserInfo(rp, tokens.access_token, claims.sub));
      const audit = await provider.t.gatehouse.audit.list({ event: 'logout', userId: claims.sub });
      assert.equal(audit[0]?.sessionId, claims.sid);
    });

    test('an expired id_token_hint still ends the session it names (RP-Initiated Logout §2)', async () => {
      const { cookie, tokens } = await signedIn('alice', rp);
      provider.t.clock.advance(20 * 60_000); // past the ID token's 15 minutes, not the session's
      assert.equal((await sessionOf(cookie)).statusCode, 200);
      const url = client.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token ?? '',
        post_logout_redirect_uri: AFTER,
      });
      const { location } = await visit(app(), url, cookie);
      assert.equal(location, AFTER);
      assert.equal((await sessionOf(cookie)).statusCode, 401);
    });

    test('no open redirect: an unregistered, suffixed or other client’s URI, or no known client, is never followed', async () => {
      const attempts = [
        'https://evil.example/signed-out',
        `${AFTER}/evil`,
        `${AFTER}?next=https://evil.example`,
        `${AFTER}#x`,
        'http://127.0.0.1:9/signed-ou',
        OTHER_AFTER,
      ];
      for (const attempt of attempts) {
        const cookie = await cookieSignIn(app(), 'alice');
        const tokens = await signInToClient(app(), cookie, rp, CALLBACK);
        const url = client.buildEndSessionUrl(rp, {
          id_token_hint: tokens.id_token ?? '',
          post_logout_redirect_uri: attempt,
          state: 's',
        });
        const { response, location } = await visit(app(), url, cookie);
        assert.equal(response.statusCode, 303, attempt);
        assert.equal(location, '/login?notice=signed-out', `${attempt} is not followed`);
        assert.equal((await sessionOf(cookie)).statusCode, 401, 'the logout itself still happens');
      }
      // Without a hint or client_id, even a registered URI is not followed: the client is unknown.
      const bare = new URL(`${provider.issuer}/logout`);
      bare.searchParams.set('post_logout_redirect_uri', AFTER);
      assert.equal((await visit(app(), bare, undefined)).location, '/login?notice=signed-out');
      const cookie = await cookieSignIn(app(), 'alice');
      const page = await visit(app(), bare, cookie);
      assert.equal(page.response.statusCode, 200, 'asks first');
      assert.deepEqual(Object.keys(formOf(page.response.body).fields), ['csrf_token']);
      // A hint of one client with another client's id: neither is trusted (§2), so it asks first.
      const tokens = await signInToClient(app(), cookie, rp, CALLBACK);
      const mixed = client.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token ?? '',
        client_id: 'someone-else',
        post_logout_redirect_uri: AFTER,
      });
      const mixedAnswer = await visit(app(), mixed, cookie);
      assert.equal(mixedAnswer.response.statusCode, 200);
      assert.doesNotMatch(mixedAnswer.response.body, /signed-out/);
      assert.equal((await sessionOf(cookie)).statusCode, 200);
    });

    test('without a valid hint nothing ends until the user confirms; the confirmation needs the session’s CSRF token', async () => {
      const { cookie, tokens } = await signedIn('alice', rp);
      const { privateKey } = await generateKeyPair('RS256');
      const forged = await new SignJWT({ sid: tokens.claims()?.sid, sub: tokens.claims()?.sub })
        .setProtectedHeader({ alg: 'RS256', kid: decodeProtectedHeader(tokens.id_token ?? '').kid ?? '' })
        .setIssuer(provider.issuer)
        .setAudience(web.clientId)
        .setIssuedAt()
        .sign(privateKey);
      // Signed by Gatehouse, but not an ID token: the client's access token.
      for (const hint of [undefined, forged, 'not-a-jwt', tokens.access_token]) {
        const url = new URL(`${provider.issuer}/logout`);
        if (hint) url.searchParams.set('id_token_hint', hint);
        url.searchParams.set('client_id', web.clientId);
        url.searchParams.set('post_logout_redirect_uri', AFTER);
        url.searchParams.set('state', 'confirm-1');
        const { response } = await visit(app(), url, cookie);
        assert.equal(response.statusCode, 200, `hint ${hint?.slice(0, 10)}: a page, not a logout`);
        assert.match(response.body, /Dashboard<\/strong> asks to sign you out/);
        assert.match(
          String(response.headers['content-security-policy']),
          /form-action 'self' http:\/\/127\.0\.0\.1:9/,
        );
        assert.equal((await sessionOf(cookie)).statusCode, 200);
      }
      const url = client.buildEndSessionUrl(rp, { post_logout_redirect_uri: AFTER, state: 'confirm-1' });
      const confirm = formOf((await visit(app(), url, cookie)).response.body);
      assert.equal(confirm.action, '/logout/confirm');
      const { csrf_token: csrfToken, ...parameters } = confirm.fields;
      assert.deepEqual(parameters, {
        client_id: web.clientId,
        post_logout_redirect_uri: AFTER,
        state: 'confirm-1',
      });
      const post = (headers: Record<string, string>, fields: Record<string, string>) =>
        app().inject({ method: 'POST', url: '/logout/confirm', headers, payload: form(fields) });
      const forgedPost = await post(browserFormHeaders({ cookie }), parameters);
      assert.equal(forgedPost.statusCode, 403, 'no CSRF token');
      const crossSite = await post(
        browserFormHeaders({ cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
        confirm.fields,
      );
      assert.equal(crossSite.statusCode, 403, 'a cross-site post');
      assert.equal((await sessionOf(cookie)).statusCode, 200);
      const confirmed = await post(browserFormHeaders({ cookie }), {
        ...parameters,
        csrf_token: csrfToken ?? '',
      });
      assert.equal(confirmed.statusCode, 303);
      assert.equal(confirmed.headers.location, `${AFTER}?state=confirm-1`);
      assert.equal((await sessionOf(cookie)).statusCode, 401);
      await assert.rejects(client.refreshTokenGrant(rp, tokens.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
    });

    test('a relying party’s cross-site form post to /logout is the GET’s request (§2); Gatehouse’s own POST /logout is unchanged', async () => {
      const { cookie, tokens } = await signedIn('alice', rp);
      const fields = {
        id_token_hint: tokens.id_token ?? '',
        post_logout_redirect_uri: AFTER,
        state: 'posted',
      };
      // A cross-site POST carries no SameSite=Lax cookie.
      const posted = await app().inject({
        method: 'POST',
        url: '/logout',
        headers: browserFormHeaders({ origin: 'http://127.0.0.1:9', 'sec-fetch-site': 'cross-site' }),
        payload: form(fields),
      });
      assert.equal(posted.statusCode, 307, 'method and form kept');
      assert.equal(posted.headers.location, '/logout/rp');
      const sentOn = await app().inject({
        method: 'POST',
        url: '/logout/rp',
        headers: browserFormHeaders({ origin: 'http://127.0.0.1:9', 'sec-fetch-site': 'cross-site' }),
        payload: form(fields),
      });
      assert.equal(sentOn.statusCode, 303);
      const get = new URL(String(sentOn.headers.location), provider.issuer);
      assert.equal(get.pathname, '/logout');
      assert.equal((await visit(app(), get, cookie)).location, `${AFTER}?state=posted`);
      assert.equal((await sessionOf(cookie)).statusCode, 401);

      const own = await cookieSignIn(app(), 'alice');
      const csrf = (await sessionOf(own)).json().csrf_token as string;
      const noToken = await app().inject({ method: 'POST', url: '/logout', headers: { cookie: own } });
      assert.equal(noToken.statusCode, 403, 'a cookie without the CSRF token is still refused');
      const anonymous = await app().inject({ method: 'POST', url: '/logout' });
      assert.equal(anonymous.statusCode, 401);
      const loggedOut = await app().inject({
        method: 'POST',
        url: '/logout',
        headers: { cookie: own, 'x-csrf-token': csrf },
      });
      assert.equal(loggedOut.statusCode, 204);
      assert.equal((await sessionOf(own)).statusCode, 401);
    });

    test('a hint for an earlier session of the browser asks first, and without a session nothing ends', async () => {
      const earlier = await cookieSignIn(app(), 'alice');
      const tokens = await signInToClient(app(), earlier, rp, CALLBACK);
      const now = await cookieSignIn(app(), 'alice');
      const url = client.buildEndSessionUrl(rp, {
        id_token_hint: tokens.id_token ?? '',
        post_logout_redirect_uri: AFTER,
      });
      assert.equal((await visit(app(), url, now)).response.statusCode, 200);
      assert.equal((await sessionOf(now)).statusCode, 200);
      assert.equal((await visit(app(), url, undefined)).location, AFTER, 'nothing to end: only the redirect');
      assert.equal((await sessionOf(earlier)).statusCode, 200, 'a hint alone ends nothing');
    });

    test('the logout token reaches the client’s back-channel endpoint, checked by jose against the JWKS', async () => {
      const { cookie, tokens } = await signedIn('alice', notifiedRp, 'openid profile offline_access');
      const claims = tokens.claims();
      assert.ok(claims);
      const delivered = receiver.next();
      const url = client.buildEndSessionUrl(notifiedRp, { id_token_hint: tokens.id_token ?? '' });
      assert.equal((await visit(app(), url, cookie)).response.statusCode, 303);
      const logout = await delivered;
      assert.equal(logout.contentType, 'application/x-www-form-urlencoded');
      assert.ok(logout.logoutToken);
      const jwks = createRemoteJWKSet(new URL(`${provider.issuer}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(logout.logoutToken, jwks, {
        issuer: provider.issuer,
        audience: notified.clientId,
        typ: 'logout+jwt',
        algorithms: ['ES256'],
        currentDate: new Date(provider.t.clock.now()),
      });
      assert.equal(protectedHeader.typ, 'logout+jwt');
      assert.equal(payload.sub, claims.sub);
      assert.equal(payload.sid, claims.sid);
      assert.deepEqual(payload.events, { [EVENT]: {} });
      assert.equal(payload.nonce, undefined);
      assert.equal(typeof payload.jti, 'string');
      assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 120, 'short-lived');
      await provider.t.gatehouse.oidc.logouts.runOnce();
      const rows = await outbox();
      assert.equal(rows.at(-1)?.status, 'delivered');
      assert.ok(!provider.t.logs().includes(logout.logoutToken), 'the token is never logged');
      await assert.rejects(client.refreshTokenGrant(notifiedRp, tokens.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
    });

    test('a slow, then failing receiver does not hold up the logout; the logout token is retried with back-off', async () => {
      const { cookie, tokens } = await signedIn('alice', notifiedRp, 'openid profile offline_access');
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      receiver.answerWith(async () => {
        await held;
        return 503;
      });
      const first = receiver.next();
      const url = client.buildEndSessionUrl(notifiedRp, { id_token_hint: tokens.id_token ?? '' });
      const answered = await visit(app(), url, cookie);
      assert.equal(answered.response.statusCode, 303, 'the logout answered');
      assert.equal((await sessionOf(cookie)).statusCode, 401);
      await first; // the receiver holds its request, unanswered, while the user is already signed out
      release();
      await provider.t.gatehouse.oidc.logouts.runOnce();
      const [pending] = (await outbox()).filter((row) => row.sid === tokens.claims()?.sid);
      assert.equal(pending?.status, 'pending');
      assert.equal(Number(pending?.attempts), 1);
      assert.equal(pending?.last_error, 'HTTP 503');
      assert.equal(Number(pending?.next_attempt_at), provider.t.clock.now() + 30_000);

      const count = receiver.received.length;
      await provider.t.gatehouse.runMaintenance();
      assert.equal(receiver.received.length, count, 'not before its back-off');
      receiver.answerWith(() => 200);
      provider.t.clock.advance(30_000);
      const second = receiver.next();
      await provider.t.gatehouse.runMaintenance();
      assert.ok((await second).logoutToken);
      const [done] = (await outbox()).filter((row) => row.sid === tokens.claims()?.sid);
      assert.equal(done?.status, 'delivered');
      assert.equal(Number(done?.attempts), 2);
    });

    test('an unreachable receiver is given up after its last attempt, and the logout still succeeded', async () => {
      const cookie = await cookieSignIn(app(), 'alice');
      const tokens = await signInToClient(app(), cookie, lostRp, CALLBACK, 'openid');
      const url = client.buildEndSessionUrl(lostRp, { id_token_hint: tokens.id_token ?? '' });
      assert.equal((await visit(app(), url, cookie)).response.statusCode, 303);
      for (let attempt = 1; attempt <= 6; attempt += 1) {
        await provider.t.gatehouse.oidc.logouts.runOnce();
        provider.t.clock.advance(30_000 * 2 ** (attempt - 1));
      }
      const [row] = (await outbox()).filter((each) => each.client_id === lost.clientId);
      assert.equal(row?.status, 'failed');
      assert.equal(Number(row?.attempts), 6);
      assert.match(row?.last_error ?? '', /TypeError/);
    });

    test('every way a browser session ends sends the back-channel logout of its sid', async () => {
      const bob = await registerUser(app(), 'bob');
      const admin = { authorization: `Bearer ${await login(app(), 'root')}` };
      const ways: Record<string, (cookie: string) => Promise<{ statusCode: number }>> = {
        'POST /logout with the cookie': async (cookie) => {
          const csrf = (await sessionOf(cookie)).json().csrf_token as string;
          return app().inject({ method: 'POST', url: '/logout', headers: { cookie, 'x-csrf-token': csrf } });
        },
        'DELETE /sessions/{id} from another session': async (cookie) => {
          const id = (await sessionOf(cookie)).json().session_id as string;
          const bearer = { authorization: `Bearer ${await login(app(), 'bob')}` };
          return app().inject({ method: 'DELETE', url: `/sessions/${id}`, headers: bearer });
        },
        'an admin revoking the user’s sessions': () =>
          app().inject({ method: 'DELETE', url: `/users/${bob.id}/sessions`, headers: admin }),
        'a password change (other sessions end)': async () => {
          const change = async (from: string, to: string) =>
            app().inject({
              method: 'POST',
              url: '/users/me/password',
              headers: { authorization: `Bearer ${await login(app(), 'bob', from)}` },
              payload: { current_password: from, new_password: to },
            });
          const changed = await change(PASSWORD, `${PASSWORD} again`);
          await change(`${PASSWORD} again`, PASSWORD);
          return changed;
        },
        'the user disabled by an admin': async () => {
          const patched = await app().inject({
            method: 'PATCH',
            url: `/users/${bob.id}`,
            headers: admin,
            payload: { disabled: true },
          });
          await app().inject({
            method: 'PATCH',
            url: `/users/${bob.id}`,
            headers: admin,
            payload: { disabled: false },
          });
          return patched;
        },
        'the user deleted by an admin': () =>
          app().inject({ method: 'DELETE', url: `/users/${bob.id}`, headers: admin }),
      };
      for (const [way, end] of Object.entries(ways)) {
        const cookie = await cookieSignIn(app(), 'bob');
        const tokens = await signInToClient(
          app(),
          cookie,
          notifiedRp,
          CALLBACK,
          'openid profile offline_access',
        );
        const delivered = receiver.next();
        const answer = await end(cookie);
        assert.ok(answer.statusCode < 300, `${way}: ${answer.statusCode}`);
        const token = decodeJwt((await delivered).logoutToken ?? '');
        assert.equal(token.sid, tokens.claims()?.sid, way);
        assert.equal(token.sub, bob.id, way);
        await assert.rejects(client.refreshTokenGrant(notifiedRp, tokens.refresh_token ?? ''), {
          error: 'invalid_grant',
        });
      }
    });
  });
}
