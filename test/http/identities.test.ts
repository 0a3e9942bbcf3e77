/**
 * Connected accounts: listing, linking from a signed-in session (recent sign-in needed), refusing
 * an identity linked to someone else, unlinking but never the last way in, the admin's view, and
 * identities deleted with their user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  finishSignIn,
  signInWith,
  startOidcProvider,
  type TestOidcProvider,
  visitProvider,
} from '../support/external-providers.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`connected accounts (${database.name})`, () => {
    let oidc: TestOidcProvider;
    let t: TestApp;
    let seq = 0;

    before(async () => {
      oidc = await startOidcProvider();
      t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_ISSUER: 'http://localhost:8000',
          GATEHOUSE_OIDC_TEST_ISSUER: oidc.issuer,
          GATEHOUSE_OIDC_TEST_CLIENT_ID: 'gatehouse-test',
          GATEHOUSE_OIDC_TEST_CLIENT_SECRET: 'test-secret',
          GATEHOUSE_OIDC_TEST_TRUST_EMAIL: 'true',
        },
      });
    });
    after(async () => {
      await t.close();
      await oidc.close();
    });

    const person = () => {
      seq += 1;
      oidc.claims = { sub: `id-${seq}`, email: `id${seq}@example.com`, email_verified: true };
      return oidc.claims as { sub: string };
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    /** Starts a link as `token`'s user and completes it at the provider; returns the callback's answer. */
    async function link(token: string) {
      const started = await t.app.inject({
        method: 'POST',
        url: '/users/me/identities/test',
        headers: bearer(token),
      });
      assert.equal(started.statusCode, 200, started.body);
      const cookie = started.cookies.find((c) => c.name === 'gatehouse_oauth');
      return finishSignIn(
        t.app,
        await visitProvider(started.json().authorization_url),
        `gatehouse_oauth=${cookie?.value}`,
      );
    }

    test('a signed-in user links an identity, lists it, and signs in with it', async () => {
      const user = await registerUser(t.app, 'linker');
      const token = await login(t.app, 'linker');
      person();
      const linked = await link(token);
      assert.equal(linked.location, '/account?notice=identity-linked');
      const list = await t.app.inject({ method: 'GET', url: '/users/me/identities', headers: bearer(token) });
      assert.equal(list.statusCode, 200);
      assert.equal(list.json().length, 1);
      assert.equal(list.json()[0].provider, 'test');
      const again = await signInWith(t.app, 'test');
      const me = await t.app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { cookie: again.cookies.gatehouse_session ?? '' },
      });
      assert.equal(me.json().id, user.id);
    });

    test('linking needs a recent sign-in', async () => {
      await registerUser(t.app, 'stale');
      const token = await login(t.app, 'stale');
      t.clock.advance(11 * 60_000);
      const refused = await t.app.inject({
        method: 'POST',
        url: '/users/me/identities/test',
        headers: bearer(token),
      });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.json().code, 'REAUTH_REQUIRED');
    });

    test('an identity linked to someone else cannot be linked again', async () => {
      person();
      await signInWith(t.app, 'test');
      await registerUser(t.app, 'thief');
      const refused = await link(await login(t.app, 'thief'));
      assert.equal(refused.location, '/account?notice=external-linked-elsewhere');
    });

    test('unlinking the only way to sign in is refused with 409 LAST_SIGN_IN_METHOD; with a second one it works', async () => {
      person();
      const first = await signInWith(t.app, 'test');
      const cookie = first.cookies.gatehouse_session ?? '';
      const session = await t.app.inject({ method: 'GET', url: '/session', headers: { cookie } });
      const csrf = session.json().csrf_token;
      const headers = { cookie, 'x-csrf-token': csrf, origin: 'http://localhost:8000' };
      const [identity] = (
        await t.app.inject({ method: 'GET', url: '/users/me/identities', headers: { cookie } })
      ).json();
      const refused = await t.app.inject({
        method: 'DELETE',
        url: `/users/me/identities/${identity.id}`,
        headers,
      });
      assert.equal(refused.statusCode, 409);
      assert.deepEqual(refused.json(), {
        detail: 'This is your only way to sign in',
        code: 'LAST_SIGN_IN_METHOD',
      });

      const userId = session.json().id ?? session.json().user?.id;
      const token = (
        await t.gatehouse.sessions.startTokenSession(
          (await t.gatehouse.accounts.findUser(userId)) as NonNullable<
            Awaited<ReturnType<typeof t.gatehouse.accounts.findUser>>
          >,
          'profile:read profile:write',
          undefined,
          { ip: null, userAgent: null },
          'test',
        )
      ).accessToken;
      person();
      assert.equal((await link(token)).location, '/account?notice=identity-linked');
      const removed = await t.app.inject({
        method: 'DELETE',
        url: `/users/me/identities/${identity.id}`,
        headers,
      });
      assert.equal(removed.statusCode, 204);
    });

    test('a passwordless account whose sign-in is old is asked to sign in again with its provider', async () => {
      person();
      const first = await signInWith(t.app, 'test');
      t.clock.advance(11 * 60_000);
      const page = await t.app.inject({
        method: 'GET',
        url: '/account',
        headers: { cookie: first.cookies.gatehouse_session ?? '' },
      });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Sign in again with Test/);
      assert.match(page.body, /href="\/oauth\/test\/authorize\?return_to=%2Faccount"/);
      assert.doesNotMatch(page.body, /name="password"/);
    });

    test('an admin sees the linked providers; deleting the user deletes its identities', async () => {
      await t.gatehouse.accounts.register({
        username: 'boss',
        email: 'boss@example.com',
        password: PASSWORD,
        roles: ['user', 'admin'],
      });
      const admin = await login(t.app, 'boss');
      person();
      const signedIn = await signInWith(t.app, 'test');
      const me = await t.app.inject({
        method: 'GET',
        url: '/users/me',
        headers: { cookie: signedIn.cookies.gatehouse_session ?? '' },
      });
      const id = me.json().id;
      const shown = await t.app.inject({ method: 'GET', url: `/users/${id}`, headers: bearer(admin) });
      assert.equal(shown.statusCode, 200);
      assert.deepEqual(
        shown.json().identities.map((i: { provider: string }) => i.provider),
        ['test'],
      );
      const deleted = await t.app.inject({ method: 'DELETE', url: `/users/${id}`, headers: bearer(admin) });
      assert.equal(deleted.statusCode, 204);
      const rows = await t.gatehouse.store.db
        .selectFrom('identities')
        .selectAll()
        .where('user_id', '=', id)
        .execute();
      assert.deepEqual(rows, []);
    });
  });
}
