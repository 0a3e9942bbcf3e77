/**
 * "Apps with access": the clients a user consented to (`GET /users/me/apps`) and taking that back
 * (`DELETE /users/me/apps/{client_id}`): the consent is forgotten and the client's sessions of
 * the user end, so its refresh token stops working, with openid-client as the relying party.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { DATABASES, login, registerUser } from '../support/gatehouse.ts';
import { signInToClient } from './logout-support.ts';
import {
  authorizationRequest,
  authorizeWithCookie,
  cookieSignIn,
  type Provider,
  startProvider,
} from './provider-support.ts';

const CALLBACK = 'http://127.0.0.1:9/notes/callback';
const SCOPE = 'openid profile offline_access';

for (const database of DATABASES) {
  describe(`Apps with access (${database.name})`, () => {
    let provider: Provider;
    let notes: { clientId: string; clientSecret: string | undefined };
    let rp: client.Configuration;
    const app = () => provider.t.app;
    const as = async (username: string) => ({ authorization: `Bearer ${await login(app(), username)}` });

    before(async () => {
      provider = await startProvider(database.url);
      notes = await provider.register({
        client_name: 'Notes',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: SCOPE,
      });
      rp = await provider.relyingParty(notes.clientId, notes.clientSecret);
      await registerUser(app(), 'mallory');
    });
    after(() => provider?.close());

    test('lists the app the user allowed, and removing it forgets the consent and kills its refresh token', async () => {
      const cookie = await cookieSignIn(app(), 'alice');
      const tokens = await signInToClient(app(), cookie, rp, CALLBACK, SCOPE);
      const alice = await as('alice');
      const listed = await app().inject({ method: 'GET', url: '/users/me/apps', headers: alice });
      assert.equal(listed.statusCode, 200);
      const [item, ...rest] = listed.json().items;
      assert.deepEqual(rest, []);
      assert.equal(item.client_id, notes.clientId);
      assert.equal(item.client_name, 'Notes');
      assert.deepEqual([...item.scopes].sort(), ['offline_access', 'openid', 'profile']);
      assert.equal(item.granted_at, new Date(provider.t.clock.now()).toISOString());

      // Another user cannot take it away, nor learn that it exists.
      const byMallory = await app().inject({
        method: 'DELETE',
        url: `/users/me/apps/${notes.clientId}`,
        headers: await as('mallory'),
      });
      assert.equal(byMallory.statusCode, 404);
      assert.equal(byMallory.json().code, 'CLIENT_NOT_FOUND');
      const stillGood = await client.refreshTokenGrant(rp, tokens.refresh_token ?? '');

      const removed = await app().inject({
        method: 'DELETE',
        url: `/users/me/apps/${notes.clientId}`,
        headers: alice,
      });
      assert.equal(removed.statusCode, 204);
      await assert.rejects(client.refreshTokenGrant(rp, stillGood.refresh_token ?? ''), {
        error: 'invalid_grant',
      });
      await assert.rejects(client.fetchUserInfo(rp, stillGood.access_token, tokens.claims()?.sub ?? ''));
      const empty = await app().inject({ method: 'GET', url: '/users/me/apps', headers: alice });
      assert.deepEqual(empty.json().items, []);
      const again = await app().inject({
        method: 'DELETE',
        url: `/users/me/apps/${notes.clientId}`,
        headers: alice,
      });
      assert.equal(again.statusCode, 404);
      const [event] = await provider.t.gatehouse.audit.list({ event: 'oauth.consent_revoked' });
      assert.deepEqual(event?.details, { client_id: notes.clientId, sessions_revoked: 1 });

      // The browser session stays; the next sign-in to the app asks for consent again.
      const session = await app().inject({ method: 'GET', url: '/session', headers: { cookie } });
      assert.equal(session.statusCode, 200);
      const request = await authorizationRequest(rp, CALLBACK, { scope: SCOPE });
      const { response } = await authorizeWithCookie(app(), cookie, request.url);
      assert.equal(response.statusCode, 200);
      assert.match(response.body, /Allow Notes\?/);
    });

    test('an unknown or over-long client id answers 4xx JSON, never 5xx', async () => {
      const alice = await as('alice');
      const unknown = await app().inject({ method: 'DELETE', url: '/users/me/apps/nope', headers: alice });
      assert.equal(unknown.statusCode, 404);
      const long = await app().inject({
        method: 'DELETE',
        url: `/users/me/apps/${'x'.repeat(300)}`,
        headers: alice,
      });
      assert.ok([400, 404, 414].includes(long.statusCode), String(long.statusCode));
      assert.match(String(long.headers['content-type']), /application\/json/);
      const anonymous = await app().inject({ method: 'GET', url: '/users/me/apps' });
      assert.equal(anonymous.statusCode, 401);
    });
  });
}
