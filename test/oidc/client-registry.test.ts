/**
 * The clients registry: RFC 7591 metadata rules, secrets shown once and stored hashed, the
 * privilege ceiling, and removal ending the sessions of the client's refresh tokens. On SQLite
 * and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { operatorActor, type UserActor } from '../../src/auth/privilege-ceiling.ts';
import { NO_REQUEST } from '../../src/auth/request-context.ts';
import { hashSecret } from '../../src/auth/secrets.ts';
import { createTestApp, DATABASES, registerUser, type TestApp } from '../support/gatehouse.ts';

const OPERATOR = operatorActor('test');
const WEB = { clientName: 'Dashboard', redirectUris: ['https://app.example.com/callback'] };

async function refused(work: Promise<unknown>, error: string, description?: RegExp): Promise<void> {
  await assert.rejects(work, (thrown: { code?: string; error?: string; message: string }) => {
    assert.equal(thrown.code, 'INVALID_CLIENT_METADATA');
    assert.equal(thrown.error, error);
    if (description) assert.match(thrown.message, description);
    return true;
  });
}

for (const database of DATABASES) {
  describe(`clients registry (${database.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
    });
    after(() => t.close());
    const clients = () => t.gatehouse.clients;

    test('a confidential client gets defaults, and a secret that is shown once and stored only hashed', async () => {
      const { client, clientSecret } = await clients().register(OPERATOR, WEB);
      assert.equal(client.type, 'confidential');
      assert.equal(client.tokenEndpointAuthMethod, 'client_secret_basic');
      assert.deepEqual(client.grantTypes, ['authorization_code']);
      assert.deepEqual(client.scopes, ['openid', 'profile', 'email']);
      assert.equal(client.idTokenSignedResponseAlg, 'RS256');
      assert.equal(client.skipConsent, false);
      assert.match(client.clientId, /^[0-9a-f]{32}$/);
      assert.match(clientSecret ?? '', /^[A-Za-z0-9_-]{43}$/);
      const rows = await t.gatehouse.store.db.selectFrom('client_secrets').selectAll().execute();
      const row = rows.find((r) => r.client_id === client.clientId);
      assert.equal(row?.secret_hash, hashSecret(clientSecret as string));
      assert.ok(!JSON.stringify(rows).includes(clientSecret as string), 'the secret itself is never stored');
      assert.deepEqual(await clients().find(client.clientId), client);
    });

    test('a public client (none) has no secret and may not use client_credentials', async () => {
      const { client, clientSecret } = await clients().register(OPERATOR, {
        ...WEB,
        tokenEndpointAuthMethod: 'none',
        grantTypes: ['authorization_code', 'refresh_token'],
      });
      assert.equal(client.type, 'public');
      assert.equal(clientSecret, undefined);
      assert.deepEqual(client.scopes, ['openid', 'profile', 'email', 'offline_access']);
      await refused(
        clients().register(OPERATOR, {
          ...WEB,
          tokenEndpointAuthMethod: 'none',
          grantTypes: ['client_credentials'],
        }),
        'invalid_client_metadata',
        /public client/,
      );
    });

    test('redirect URIs: https, loopback http on any host form, or a reverse-domain native scheme', async () => {
      const { client } = await clients().register(OPERATOR, {
        ...WEB,
        redirectUris: [
          'https://app.example.com/cb?x=1',
          'http://localhost:3000/cb',
          'http://127.0.0.1/cb',
          'http://[::1]:8080/cb',
          'com.example.app:/oauth2redirect',
        ],
      });
      assert.equal(client.redirectUris.length, 5);
      for (const uri of [
        'http://app.example.com/cb',
        'https://app.example.com/cb#frag',
        'https://app.example.com/cb#',
        '/relative/cb',
        'https://user:pass@app.example.com/cb',
        'myapp:/cb',
        'javascript:alert(1)',
        'data:text/html,hi',
        'http://localhost.evil.com/cb',
        'x'.repeat(2001),
      ]) {
        await refused(clients().register(OPERATOR, { ...WEB, redirectUris: [uri] }), 'invalid_redirect_uri');
      }
      await refused(clients().register(OPERATOR, { ...WEB, redirectUris: [] }), 'invalid_redirect_uri');
      await refused(
        clients().register(OPERATOR, { ...WEB, postLogoutRedirectUris: ['http://app.example.com/bye'] }),
        'invalid_client_metadata',
        /post_logout_redirect_uris/,
      );
      await refused(
        clients().register(OPERATOR, { ...WEB, backchannelLogoutUri: 'https://app.example.com/bc#x' }),
        'invalid_client_metadata',
      );
    });

    test('a machine client needs no redirect URI and gets no scope unless it asks', async () => {
      const { client, clientSecret } = await clients().register(OPERATOR, {
        clientName: 'Billing job',
        grantTypes: ['client_credentials'],
      });
      assert.deepEqual(client.redirectUris, []);
      assert.deepEqual(client.scopes, []);
      assert.ok(clientSecret);
    });

    test('grant types, auth methods, scopes and ID-token algorithms outside the lists are refused', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ grantTypes: ['implicit'] }, /grant_types/],
        [{ grantTypes: ['password'] }, /grant_types/],
        [{ grantTypes: [] }, /grant_types/],
        [{ grantTypes: ['refresh_token'] }, /refresh_token needs/],
        [{ tokenEndpointAuthMethod: 'client_secret_jwt' }, /token_endpoint_auth_method/],
        [{ idTokenSignedResponseAlg: 'HS256' }, /id_token_signed_response_alg/],
        [{ idTokenSignedResponseAlg: 'none' }, /id_token_signed_response_alg/],
        [{ scope: 'openid Users:Write' }, /scope/],
        [{ scope: 'openid "quoted"' }, /scope/],
        [{ clientName: '' }, /client_name/],
        [{ clientName: 'a\u0000b' }, /client_name/],
        [{ audience: 'has space' }, /audience/],
      ];
      for (const [change, description] of cases) {
        await refused(
          clients().register(OPERATOR, { ...WEB, ...change }),
          'invalid_client_metadata',
          description,
        );
      }
      const { client } = await clients().register(OPERATOR, {
        ...WEB,
        idTokenSignedResponseAlg: 'EdDSA',
        scope: 'openid items:read',
        audience: 'https://api.example.com',
        skipConsent: true,
      });
      assert.deepEqual(client.scopes, ['openid', 'items:read']);
      assert.equal(client.audience, 'https://api.example.com');
      assert.equal(client.skipConsent, true);
    });

    test('private_key_jwt needs public keys, inline or at an https (or loopback) jwks_uri, not both', async () => {
      const key = {
        kty: 'EC',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      };
      const base = { ...WEB, tokenEndpointAuthMethod: 'private_key_jwt' };
      await refused(clients().register(OPERATOR, base), 'invalid_client_metadata', /jwks/);
      await refused(
        clients().register(OPERATOR, { ...base, jwksUri: 'http://keys.example.com/jwks' }),
        'invalid_client_metadata',
        /jwks_uri/,
      );
      await refused(
        clients().register(OPERATOR, { ...base, jwks: { keys: [{ ...key, d: 'secret' }] } }),
        'invalid_client_metadata',
        /public/,
      );
      await refused(
        clients().register(OPERATOR, { ...base, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }),
        'invalid_client_metadata',
      );
      await refused(
        clients().register(OPERATOR, {
          ...base,
          jwks: { keys: [key] },
          jwksUri: 'https://keys.example.com/jwks',
        }),
        'invalid_client_metadata',
        /not both/,
      );
      await refused(
        clients().register(OPERATOR, { ...WEB, jwks: { keys: [key] } }),
        'invalid_client_metadata',
      );
      const { client, clientSecret } = await clients().register(OPERATOR, { ...base, jwks: { keys: [key] } });
      assert.equal(clientSecret, undefined, 'a private_key_jwt client gets no secret');
      assert.deepEqual(client.jwks, { keys: [key] });
      const remote = await clients().register(OPERATOR, {
        ...base,
        jwksUri: 'https://keys.example.com/jwks',
      });
      assert.equal(remote.client.jwksUri, 'https://keys.example.com/jwks');
    });

    test('an actor may allow a client only permissions the actor holds', async () => {
      const user = await registerUser(t.app, `ceiling_${database.name}`);
      const actor: UserActor = {
        kind: 'user',
        userId: user.id,
        permissions: new Set(['clients:write', 'items:read']),
      };
      await assert.rejects(clients().register(actor, { ...WEB, scope: 'openid users:write' }), {
        code: 'PRIVILEGE_ESCALATION',
      });
      const { client } = await clients().register(actor, { ...WEB, scope: 'openid items:read' });
      await assert.rejects(clients().update(actor, client.clientId, { scope: 'openid roles:write' }), {
        code: 'PRIVILEGE_ESCALATION',
      });
      const admins = await clients().register(OPERATOR, { ...WEB, scope: 'openid users:write' });
      await assert.rejects(clients().remove(actor, admins.client.clientId), { code: 'PRIVILEGE_ESCALATION' });
      await assert.rejects(clients().rotateSecret(actor, admins.client.clientId), {
        code: 'PRIVILEGE_ESCALATION',
      });
      await assert.rejects(clients().update(actor, admins.client.clientId, { clientName: 'x' }), {
        code: 'PRIVILEGE_ESCALATION',
      });
    });

    test('update changes only the given fields, and a client cannot become public or confidential', async () => {
      const { client } = await clients().register(OPERATOR, WEB);
      t.clock.advance(1000);
      const changed = await clients().update(OPERATOR, client.clientId, {
        clientName: 'Dashboard 2',
        redirectUris: ['https://app.example.com/cb2'],
      });
      assert.equal(changed.clientName, 'Dashboard 2');
      assert.deepEqual(changed.redirectUris, ['https://app.example.com/cb2']);
      assert.deepEqual(changed.scopes, client.scopes);
      assert.equal(changed.createdAt, client.createdAt);
      const updated = await t.gatehouse.store.db
        .selectFrom('audit_events')
        .select('details')
        .where('event', '=', 'client.updated')
        .where('target', '=', client.clientId)
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(updated.details), { fields: ['client_name', 'redirect_uris'] });
      await refused(
        clients().update(OPERATOR, client.clientId, { redirectUris: ['http://evil.example/cb'] }),
        'invalid_redirect_uri',
      );
      await refused(
        clients().update(OPERATOR, client.clientId, { tokenEndpointAuthMethod: 'none' }),
        'invalid_client_metadata',
        /public and confidential/,
      );
      const post = await clients().update(OPERATOR, client.clientId, {
        tokenEndpointAuthMethod: 'client_secret_post',
      });
      assert.equal(post.tokenEndpointAuthMethod, 'client_secret_post');
      await assert.rejects(clients().update(OPERATOR, 'nope', { clientName: 'x' }), {
        code: 'CLIENT_NOT_FOUND',
      });
    });

    test('removing a client ends the sessions of its refresh tokens, and only those', async () => {
      const { client } = await clients().register(OPERATOR, {
        ...WEB,
        grantTypes: ['authorization_code', 'refresh_token'],
      });
      const user = await registerUser(t.app, `removal_${database.name}`);
      const record = await t.gatehouse.accounts.getUserOrThrow(user.id);
      const mine = await t.gatehouse.sessions.startTokenSession(
        record,
        'openid',
        client.clientId,
        NO_REQUEST,
        'test',
      );
      const other = await t.gatehouse.sessions.startTokenSession(
        record,
        'openid',
        undefined,
        NO_REQUEST,
        'test',
      );
      t.clock.advance(1000);
      await clients().remove(OPERATOR, client.clientId);
      assert.equal(await clients().find(client.clientId), undefined);
      assert.equal(t.gatehouse.revocation.isSessionRevoked(mine.sessionId as string), true);
      assert.equal(t.gatehouse.revocation.isSessionRevoked(other.sessionId as string), false);
      await assert.rejects(t.gatehouse.sessions.refresh(mine.refreshToken, undefined, NO_REQUEST), {
        code: 'INVALID_REFRESH_TOKEN',
      });
      await assert.rejects(clients().remove(OPERATOR, client.clientId), { code: 'CLIENT_NOT_FOUND' });
      const events = await t.gatehouse.store.db
        .selectFrom('audit_events')
        .selectAll()
        .where('target', '=', client.clientId)
        .orderBy('at')
        .execute();
      assert.deepEqual(
        events.map((e) => e.event),
        ['client.created', 'client.deleted'],
      );
      assert.equal(JSON.parse(events[1]?.details ?? '{}').sessions_revoked, 1);
    });
  });
}
