/**
 * `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009): client-authenticated, `active:
 * false` for revoked, expired, malformed and other clients' tokens, revocation of a client's own
 * tokens only (200 for anything else), the hint as a hint, and the RFC 8414 metadata. On SQLite
 * and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { NO_REQUEST } from '../../src/auth/request-context.ts';
import { createTestApp, DATABASES, registerUser, type TestApp } from '../support/gatehouse.ts';

const OPERATOR = operatorActor('test');
const WEB = {
  clientName: 'Web',
  redirectUris: ['https://app.example.com/cb'],
  grantTypes: ['authorization_code', 'refresh_token'],
};
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

interface Client {
  readonly id: string;
  readonly secret: string;
  readonly auth: string;
}

for (const database of DATABASES) {
  describe(`introspection and revocation (${database.name})`, () => {
    let t: TestApp;
    let web: Client;
    let other: Client;
    let resourceServer: Client;
    let spa: string;
    let counter = 0;

    const post = (url: string, fields: Record<string, string>, authorization?: string) =>
      t.app.inject({
        method: 'POST',
        url,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(authorization ? { authorization } : {}),
        },
        payload: new URLSearchParams(fields).toString(),
      });
    const introspect = async (client: Client, token: string, hint?: string) => {
      const response = await post(
        '/introspect',
        { token, ...(hint ? { token_type_hint: hint } : {}) },
        client.auth,
      );
      assert.equal(response.statusCode, 200, response.body);
      return response.json();
    };
    const revoke = async (client: Client, token: string, hint?: string) => {
      const response = await post(
        '/revoke',
        { token, ...(hint ? { token_type_hint: hint } : {}) },
        client.auth,
      );
      assert.equal(response.statusCode, 200, response.body);
    };
    async function register(input: Record<string, unknown>): Promise<Client> {
      const { client, clientSecret } = await t.gatehouse.clients.register(OPERATOR, { ...WEB, ...input });
      return {
        id: client.clientId,
        secret: clientSecret ?? '',
        auth: basic(client.clientId, clientSecret ?? ''),
      };
    }
    /** A new user's tokens issued to `clientId`. */
    async function tokensFor(clientId: string) {
      counter += 1;
      const user = await registerUser(t.app, `holder${counter}_${database.name}`);
      const record = await t.gatehouse.accounts.getUserOrThrow(user.id);
      const pair = await t.gatehouse.sessions.startTokenSession(
        record,
        'openid profile:read',
        clientId,
        NO_REQUEST,
        'test',
      );
      return { user, ...pair };
    }

    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      web = await register({});
      other = await register({ clientName: 'Other' });
      resourceServer = await register({
        clientName: 'API',
        grantTypes: ['client_credentials'],
        audience: t.config.audience,
      });
      spa = (await t.gatehouse.clients.register(OPERATOR, { ...WEB, tokenEndpointAuthMethod: 'none' })).client
        .clientId;
    });
    after(() => t.close());

    test('an active access token of the caller is described as RFC 7662 §2.2 says', async () => {
      const { user, accessToken } = await tokensFor(web.id);
      const response = await post('/introspect', { token: accessToken }, web.auth);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json();
      const now = Math.floor(t.clock.now() / 1000);
      assert.deepEqual(
        { ...body, jti: typeof body.jti },
        {
          active: true,
          scope: 'openid profile:read',
          client_id: web.id,
          username: user.username,
          token_type: 'Bearer',
          exp: now + t.config.accessTokenTtlSeconds,
          iat: now,
          sub: user.id,
          aud: t.config.audience,
          iss: t.config.issuer,
          jti: 'string',
        },
      );
    });

    test('an active refresh token of the caller is described, with or without the hint', async () => {
      const { user, refreshToken } = await tokensFor(web.id);
      for (const hint of [undefined, 'refresh_token', 'access_token', 'something_else']) {
        const body = await introspect(web, refreshToken, hint);
        assert.equal(body.active, true, `hint ${hint}`);
        assert.equal(body.token_type, 'refresh_token');
        assert.equal(body.client_id, web.id);
        assert.equal(body.sub, user.id);
        assert.equal(body.username, user.username);
        assert.equal(body.scope, 'openid profile:read');
        assert.equal(body.iat, Math.floor(t.clock.now() / 1000));
        assert.ok(body.exp > body.iat);
      }
    });

    test("another client's tokens are inactive to the caller, unless their audience is the caller's", async () => {
      const { accessToken, refreshToken } = await tokensFor(web.id);
      assert.deepEqual(await introspect(other, accessToken), { active: false });
      assert.deepEqual(await introspect(other, refreshToken), { active: false });
      assert.equal((await introspect(resourceServer, accessToken)).active, true, 'the token is meant for it');
      assert.deepEqual(await introspect(resourceServer, refreshToken), { active: false });
    });

    test('malformed, expired, revoked, spent and disabled-user tokens are inactive', async () => {
      for (const token of ['', 'x', 'a.b.c', 'gh_abc', `${'A'.repeat(22)}.${'B'.repeat(43)}`]) {
        if (token === '') continue;
        assert.deepEqual(await introspect(web, token), { active: false }, token);
      }
      const expiring = await tokensFor(web.id);
      t.clock.advance((t.config.accessTokenTtlSeconds + 60) * 1000);
      assert.deepEqual(await introspect(web, expiring.accessToken), { active: false });
      const revoked = await tokensFor(web.id);
      await t.gatehouse.sessions.revokeAllSessions(revoked.user.id, NO_REQUEST);
      assert.deepEqual(await introspect(web, revoked.accessToken), { active: false });
      assert.deepEqual(await introspect(web, revoked.refreshToken), { active: false });
      const rotated = await tokensFor(web.id);
      const next = await t.gatehouse.sessions.refresh(rotated.refreshToken, undefined, NO_REQUEST);
      assert.deepEqual(await introspect(web, rotated.refreshToken), { active: false }, 'spent');
      assert.equal((await introspect(web, next.refreshToken)).active, true);
      const disabled = await tokensFor(web.id);
      await t.gatehouse.userAdmin.update(OPERATOR, disabled.user.id, { disabled: true });
      assert.deepEqual(await introspect(web, disabled.accessToken), { active: false });
      assert.deepEqual(await introspect(web, disabled.refreshToken), { active: false });
    });

    test('a machine token (sub = client_id) is active while its client exists', async () => {
      const issued = t.gatehouse.tokens.issueAccessToken({
        userId: resourceServer.id,
        username: resourceServer.id,
        roles: [],
        scope: '',
        clientId: resourceServer.id,
      });
      const body = await introspect(resourceServer, issued.token);
      assert.equal(body.active, true);
      assert.equal(body.sub, resourceServer.id);
    });

    test('the caller must authenticate as a confidential client; a missing token is invalid_request', async () => {
      const { accessToken } = await tokensFor(web.id);
      const anonymous = await post('/introspect', { token: accessToken });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().error, 'invalid_client');
      const wrong = await post('/introspect', { token: accessToken }, basic(web.id, other.secret));
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json().error, 'invalid_client');
      assert.equal(wrong.headers['www-authenticate'], 'Basic realm="gatehouse"');
      const posted = await post('/introspect', {
        token: accessToken,
        client_id: web.id,
        client_secret: web.secret,
      });
      assert.equal(posted.statusCode, 401, 'a client_secret_basic client may not use client_secret_post');
      assert.equal(posted.headers['www-authenticate'], undefined);
      const publicClient = await post('/introspect', { token: accessToken, client_id: spa });
      assert.equal(publicClient.statusCode, 401);
      const bearer = await post('/introspect', { token: accessToken }, `Bearer ${accessToken}`);
      assert.equal(bearer.statusCode, 401);
      assert.ok(!t.logs().includes(web.secret) && !t.logs().includes(other.secret), 'no secret is logged');
      const missing = await post('/introspect', {}, web.auth);
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().error, 'invalid_request');
      const json = await t.app.inject({
        method: 'POST',
        url: '/introspect',
        headers: { authorization: web.auth },
        payload: { token: accessToken },
      });
      assert.equal(json.statusCode, 415);
    });

    test('revoking a refresh token ends its session: every token of it stops working', async () => {
      const { user, accessToken, refreshToken, sessionId } = await tokensFor(web.id);
      await revoke(web, refreshToken);
      assert.deepEqual(await introspect(web, refreshToken), { active: false });
      assert.deepEqual(await introspect(web, accessToken), { active: false });
      const me = await t.app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { authorization: `Bearer ${accessToken}` },
      });
      assert.equal(me.statusCode, 401);
      await assert.rejects(t.gatehouse.sessions.refresh(refreshToken, undefined, NO_REQUEST), {
        code: 'INVALID_REFRESH_TOKEN',
      });
      const events = await t.gatehouse.store.db
        .selectFrom('audit_events')
        .selectAll()
        .where('event', '=', 'token.revoked')
        .where('session_id', '=', sessionId as string)
        .execute();
      assert.equal(events.length, 1);
      assert.equal(events[0]?.user_id, user.id);
      assert.deepEqual(JSON.parse(events[0]?.details ?? '{}'), {
        client_id: web.id,
        token_type: 'refresh_token',
      });
      await revoke(web, refreshToken);
    });

    test('revoking an access token ends its session; a wrong hint is only a hint', async () => {
      const access = await tokensFor(web.id);
      await revoke(web, access.accessToken, 'refresh_token');
      assert.deepEqual(await introspect(web, access.refreshToken), { active: false });
      const refresh = await tokensFor(web.id);
      await revoke(web, refresh.refreshToken, 'access_token');
      assert.deepEqual(await introspect(web, refresh.refreshToken), { active: false });
    });

    test("another client's token is left alone, and the answer is still 200", async () => {
      const { accessToken, refreshToken } = await tokensFor(web.id);
      await revoke(other, refreshToken);
      await revoke(other, accessToken);
      await revoke(resourceServer, accessToken);
      assert.equal((await introspect(web, refreshToken)).active, true);
      assert.equal((await introspect(web, accessToken)).active, true);
      await revoke(web, 'not-a-token');
      await revoke(web, `${'A'.repeat(22)}.${'B'.repeat(43)}`);
    });

    test('a public client revokes its own refresh token with its client_id alone', async () => {
      const { refreshToken } = await tokensFor(spa);
      const response = await post('/revoke', { token: refreshToken, client_id: spa });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(await introspect(web, refreshToken), { active: false });
      const session = await t.gatehouse.store.db
        .selectFrom('refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
        .select('sessions.revoked_at')
        .where('refresh_tokens.client_id', '=', spa)
        .executeTakeFirst();
      assert.notEqual(session?.revoked_at, null);
      const unauthenticated = await post('/revoke', { token: refreshToken });
      assert.equal(unauthenticated.statusCode, 401);
    });

    test('a private_key_jwt client introspects with an assertion for this endpoint or the issuer, not another', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
      const { client } = await t.gatehouse.clients.register(OPERATOR, {
        ...WEB,
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [jwk] },
      });
      const { accessToken } = await tokensFor(client.clientId);
      const assertion = (aud: string) =>
        new SignJWT({ jti: randomUUID() })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setIssuer(client.clientId)
          .setSubject(client.clientId)
          .setAudience(aud)
          .setExpirationTime(Math.floor(t.clock.now() / 1000) + 60)
          .sign(privateKey);
      const withAssertion = async (aud: string) =>
        post('/introspect', {
          token: accessToken,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion(aud),
        });
      for (const aud of [`${t.config.issuer}/introspect`, t.config.issuer]) {
        const response = await withAssertion(aud);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().active, true);
      }
      const elsewhere = await withAssertion(`${t.config.issuer}/token`);
      assert.equal(elsewhere.statusCode, 401);
      assert.equal(elsewhere.json().error, 'invalid_client');
    });

    test('the RFC 8414 metadata names both endpoints and their authentication', async () => {
      const doc = (
        await t.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
      ).json();
      assert.equal(doc.introspection_endpoint, `${t.config.issuer}/introspect`);
      assert.equal(doc.revocation_endpoint, `${t.config.issuer}/revoke`);
      assert.deepEqual(doc.introspection_endpoint_auth_methods_supported, [
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ]);
      assert.ok(doc.revocation_endpoint_auth_methods_supported.includes('none'));
    });
  });
}
