/**
 * Each framework adapter of @gatehouse/verify on a real app, against tokens from a real Gatehouse:
 * it lets the right callers through and refuses the others with the server's own answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADAPTERS, type AdapterApp } from './adapters.ts';
import { type Issuer, startIssuer } from './issuer.ts';

const bearer = (token: string) => `Bearer ${token}`;

for (const adapter of ADAPTERS) {
  describe(`${adapter.name} guards answer like the Gatehouse server`, () => {
    let issuer: Issuer;
    let app: AdapterApp;
    before(async () => {
      issuer = await startIssuer();
      app = await adapter.build(issuer.verifier());
    });
    after(async () => {
      await app.close();
      await issuer.close();
    });

    test('a valid token reaches the handler with its caller; an optional route without one gets null', async () => {
      const { alice, bob } = issuer.tokens;
      const hello = await app.request('/hello', bearer(alice));
      assert.equal(hello.status, 200);
      assert.equal(hello.wwwAuthenticate, null);
      assert.deepEqual(hello.body, { user: 'alice' });
      assert.deepEqual((await app.request('/reports', bearer(bob))).body, { user: 'bob' });
      assert.deepEqual((await app.request('/report-permission', bearer(bob))).body, { user: 'bob' });
      assert.deepEqual((await app.request('/maybe')).body, { user: null });
      assert.deepEqual((await app.request('/maybe', bearer(alice))).body, { user: 'alice' });
    });

    test('no token, or a header that is not Bearer: 401 `WWW-Authenticate: Bearer`, as the server answers', async () => {
      const server = await issuer.serverAnswer('/users/me');
      assert.deepEqual(server.body, { detail: 'Not authenticated' });
      assert.equal(server.wwwAuthenticate, 'Bearer');
      assert.deepEqual(await app.request('/hello'), server);
      assert.deepEqual(await app.request('/reports'), server);
      assert.deepEqual(await app.request('/hello', 'Basic YWxpY2U6cGFzc3dvcmQ='), server);
      assert.deepEqual(await app.request('/hello', 'Bearer'), server);
    });

    test('a forged, expired or garbage token: 401 invalid_token, as the server answers, even on an optional route', async () => {
      const { alice, expired } = issuer.tokens;
      const [header, payload] = alice.split('.');
      const forged = `${header}.${payload}.${'A'.repeat(86)}`;
      for (const token of [forged, expired, 'not.a.token']) {
        const server = await issuer.serverAnswer('/users/me', bearer(token));
        assert.equal(server.status, 401);
        assert.equal(server.wwwAuthenticate, 'Bearer error="invalid_token"');
        assert.deepEqual(server.body, { detail: 'Could not validate credentials' });
        assert.deepEqual(await app.request('/hello', bearer(token)), server);
        assert.deepEqual(await app.request('/maybe', bearer(token)), server);
      }
    });

    test('a token without the scope: 403 insufficient_scope naming it, as the server answers; a missing role names none', async () => {
      const { alice, aliceProfileWrite } = issuer.tokens;
      const server = await issuer.serverAnswer('/users/me', bearer(aliceProfileWrite));
      assert.equal(server.status, 403);
      assert.equal(server.wwwAuthenticate, 'Bearer error="insufficient_scope", scope="profile:read"');
      assert.deepEqual(server.body, { detail: 'Not enough permissions' });
      assert.deepEqual(await app.request('/profile', bearer(aliceProfileWrite)), server);
      assert.equal((await app.request('/profile', bearer(alice))).status, 200);

      const reports = await app.request('/reports', bearer(alice));
      assert.equal(reports.status, 403);
      assert.equal(reports.wwwAuthenticate, 'Bearer error="insufficient_scope", scope="reports:read"');
      assert.equal(
        (await app.request('/report-permission', bearer(alice))).wwwAuthenticate,
        'Bearer error="insufficient_scope", scope="reports:read"',
      );
      assert.deepEqual(await app.request('/pro', bearer(issuer.tokens.bob)), {
        ...server,
        wwwAuthenticate: 'Bearer error="insufficient_scope"',
      });
    });
  });
}
