/**
 * External sign-in through the browser redirect flow, against a real OpenID Connect provider and a
 * GitHub stand-in: the linking rules, and the attacks on the flow (state, PKCE, nonce, ID token,
 * `iss` mix-up) each refused onto the login page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import {
  finishSignIn,
  type GithubUser,
  signInWith,
  startGithubStandIn,
  startOidcProvider,
  startSignIn,
  type TestGithub,
  type TestOidcProvider,
  visitProvider,
} from '../support/external-providers.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

function providerEnv(oidc: TestOidcProvider, github: TestGithub): Record<string, string> {
  return {
    GATEHOUSE_OIDC_TEST_ISSUER: oidc.issuer,
    GATEHOUSE_OIDC_TEST_CLIENT_ID: 'gatehouse-test',
    GATEHOUSE_OIDC_TEST_CLIENT_SECRET: 'test-secret',
    GATEHOUSE_OIDC_TEST_TRUST_EMAIL: 'true',
    GATEHOUSE_OIDC_TEST_DISPLAY_NAME: 'Test IdP',
    GATEHOUSE_OIDC_LOOSE_ISSUER: oidc.issuer,
    GATEHOUSE_OIDC_LOOSE_CLIENT_ID: 'gatehouse-loose',
    GATEHOUSE_OIDC_LOOSE_CLIENT_SECRET: 'loose-secret',
    GATEHOUSE_GITHUB_CLIENT_ID: 'gh-client',
    GATEHOUSE_GITHUB_CLIENT_SECRET: 'gh-secret',
    GATEHOUSE_GITHUB_URL: github.url,
    GATEHOUSE_GITHUB_API_URL: `${github.url}/api`,
  };
}

async function passwordLogin(t: TestApp, username: string, password = PASSWORD) {
  return t.app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ username, password }).toString(),
  });
}

async function me(t: TestApp, sessionCookie: string | undefined) {
  return t.app.inject({ method: 'GET', url: '/users/me', headers: { cookie: sessionCookie ?? '' } });
}

const sessionCookieOf = (step: { cookies: Record<string, string> }) => step.cookies.gatehouse_session;

async function identitiesOf(t: TestApp, userId: string) {
  return t.gatehouse.externalSignIn.listIdentities(userId);
}

for (const database of DATABASES) {
  describe(`external sign-in, browser flow (${database.name})`, () => {
    let oidc: TestOidcProvider;
    let github: TestGithub;
    let t: TestApp;
    let seq = 0;
    /** A fresh person at the provider for each test. */
    const person = (claims: Record<string, unknown> = {}) => {
      seq += 1;
      oidc.claims = { sub: `sub-${seq}`, email: `person${seq}@example.com`, email_verified: true, ...claims };
      return oidc.claims as { sub: string; email: string };
    };

    before(async () => {
      oidc = await startOidcProvider();
      github = await startGithubStandIn();
      t = await createTestApp({
        databaseUrl: database.url,
        env: { GATEHOUSE_ISSUER: 'http://localhost:8000', ...providerEnv(oidc, github) },
      });
    });
    after(async () => {
      if (process.env.DUMP)
        console.log(
          t
            .logs()
            .split('\n')
            .filter((l) => l.includes('refused'))
            .join('\n'),
        );
      await t.close();
      await oidc.close();
      await github.close();
    });

    test('a new person signs in: a passwordless account with a verified address, a session, and return_to', async () => {
      const { email } = person({ preferred_username: 'newcomer' });
      const start = await startSignIn(t.app, 'test', '?return_to=%2Fdashboard%3Ftab%3D1');
      assert.equal(start.status, 302);
      const authorize = new URL(start.location ?? '');
      assert.equal(authorize.origin, oidc.issuer);
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(authorize.searchParams.get('code_challenge'));
      assert.ok(authorize.searchParams.get('nonce'));
      assert.ok(authorize.searchParams.get('state'));
      assert.equal(authorize.searchParams.get('redirect_uri'), 'http://localhost:8000/oauth/test/callback');
      const setCookie = String(
        (await t.app.inject({ method: 'GET', url: '/oauth/test/authorize' })).headers['set-cookie'],
      );
      assert.match(setCookie, /gatehouse_oauth=/);
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /Max-Age=600/);
      assert.match(setCookie, /SameSite=Lax/);

      const done = await finishSignIn(t.app, await visitProvider(start.location ?? ''), start.stateCookie);
      assert.equal(done.status, 303);
      assert.equal(done.location, '/dashboard?tab=1');
      const user = (await me(t, sessionCookieOf(done))).json();
      assert.equal(user.email, email);
      assert.equal(user.username, 'newcomer');
      assert.equal(user.email_verified, true);
      // No password: password login answers like a wrong password.
      assert.equal((await passwordLogin(t, 'newcomer', 'anything at all')).statusCode, 401);
      const events = await t.gatehouse.audit.list({ userId: user.id, limit: 10 });
      const login = events.find((e) => e.event === 'login.succeeded');
      assert.deepEqual(login?.details, { method: 'external', provider: 'test' });
    });

    test('rule 1: a linked identity signs in its user again, and not once the user is disabled', async () => {
      person();
      const first = await signInWith(t.app, 'test');
      const user = (await me(t, sessionCookieOf(first))).json();
      const again = await signInWith(t.app, 'test');
      assert.equal((await me(t, sessionCookieOf(again))).json().id, user.id);
      await t.gatehouse.accounts.setDisabled(user.id, true);
      const refused = await signInWith(t.app, 'test');
      assert.equal(refused.location, '/login?notice=external-inactive');
      assert.equal(sessionCookieOf(refused), undefined);
    });

    test('rule 2: a verified address from a trusted provider links to the account whose address is verified', async () => {
      const local = await t.gatehouse.accounts.register({
        username: 'verified-bob',
        email: 'bob@example.com',
        password: PASSWORD,
        emailVerified: true,
      });
      person({ email: 'Bob@Example.com' });
      const done = await signInWith(t.app, 'test');
      assert.equal((await me(t, sessionCookieOf(done))).json().id, local.id);
      assert.equal((await identitiesOf(t, local.id)).length, 1);
      assert.equal((await passwordLogin(t, 'verified-bob')).statusCode, 200, 'the password stays');
    });

    test('rule 2: an unverified local account is claimed by the mailbox owner: password, sessions, keys and links end', async () => {
      const squatter = await registerUser(t.app, 'squatter', { email: 'victim@example.com' });
      const tokens = (await passwordLogin(t, 'squatter')).json();
      person({ email: 'victim@example.com' });
      const done = await signInWith(t.app, 'test');
      assert.equal(done.status, 303);
      const owner = (await me(t, sessionCookieOf(done))).json();
      assert.equal(owner.id, squatter.id);
      assert.equal(owner.email_verified, true);
      assert.equal((await passwordLogin(t, 'squatter')).statusCode, 401, 'the registrant password is gone');
      const refresh = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token,
        }).toString(),
      });
      assert.equal(refresh.statusCode, 400, "the registrant's session is revoked");
      const events = (await t.gatehouse.audit.list({ userId: squatter.id, limit: 20 })).map((e) => e.event);
      assert.ok(events.includes('account.claimed'));
      assert.ok(events.includes('identity.linked'));
    });

    test('rule 4: an address the provider did not verify links to and claims nothing', async () => {
      const local = await registerUser(t.app, 'unclaimed', { email: 'unclaimed@example.com' });
      person({ email: 'unclaimed@example.com', email_verified: false });
      const refused = await signInWith(t.app, 'test');
      assert.equal(refused.location, '/login?notice=external-account-exists');
      assert.equal(sessionCookieOf(refused), undefined);
      assert.deepEqual(await identitiesOf(t, local.id), []);
      assert.equal((await passwordLogin(t, 'unclaimed')).statusCode, 200);
      const page = await t.app.inject({ method: 'GET', url: refused.location ?? '' });
      assert.match(page.body, /An account with this email address already exists/);
    });

    test('a provider not trusted to verify addresses links to nothing, even a verified one', async () => {
      const local = await t.gatehouse.accounts.register({
        username: 'careful',
        email: 'careful@example.com',
        password: PASSWORD,
        emailVerified: true,
      });
      person({ email: 'careful@example.com' });
      const refused = await signInWith(t.app, 'loose');
      assert.equal(refused.location, '/login?notice=external-account-exists');
      assert.deepEqual(await identitiesOf(t, local.id), []);
    });

    test('GitHub: the primary verified address links; the user and emails come from its API', async () => {
      const local = await t.gatehouse.accounts.register({
        username: 'gh-owner',
        email: 'octo@example.com',
        password: PASSWORD,
        emailVerified: true,
      });
      github.user = {
        id: 4242,
        login: 'octo',
        emails: [
          { email: 'other@example.com', primary: false, verified: true },
          { email: 'octo@example.com', primary: true, verified: true },
        ],
      } satisfies GithubUser;
      const done = await signInWith(t.app, 'github');
      assert.equal(done.status, 303);
      assert.equal((await me(t, sessionCookieOf(done))).json().id, local.id);
      const [identity] = await identitiesOf(t, local.id);
      assert.equal(identity?.provider, 'github');
    });

    test('GitHub: an unverified primary address against an existing account is refused', async () => {
      await registerUser(t.app, 'gh-victim', { email: 'ghvictim@example.com' });
      github.user = {
        id: 5151,
        login: 'ghv',
        emails: [{ email: 'ghvictim@example.com', primary: true, verified: false }],
      };
      const refused = await signInWith(t.app, 'github');
      assert.equal(refused.location, '/login?notice=external-account-exists');
    });

    test("GitHub's API failing lands on the login page with a message, never a 500", async () => {
      github.user = {
        id: 6161,
        login: 'down',
        emails: [{ email: 'down@example.com', primary: true, verified: true }],
      };
      github.apiDown = true;
      try {
        const refused = await signInWith(t.app, 'github');
        assert.equal(refused.location, '/login?notice=external-failed');
      } finally {
        github.apiDown = false;
      }
    });

    describe('attacks on the flow land on the login page, signed out', () => {
      /** Refused onto the login page, for the reason the log gives (so each test fails for its attack). */
      const refusedOntoLogin = (
        step: { status: number; location: string | undefined; cookies: Record<string, string> },
        reason: RegExp,
      ) => {
        const refusals = t
          .logs()
          .split('\n')
          .filter((line) => line.includes('external sign-in refused'));
        assert.match(JSON.parse(refusals.at(-1) ?? '{}').reason ?? '', reason);
        assert.equal(step.status, 303);
        assert.equal(step.location, '/login?notice=external-failed');
        assert.equal(sessionCookieOf(step), undefined);
      };

      test('a callback without the state cookie', async () => {
        person();
        const start = await startSignIn(t.app, 'test');
        refusedOntoLogin(await finishSignIn(t.app, await visitProvider(start.location ?? ''), ''), /no flow/);
      });

      test("another browser's state cookie (login CSRF)", async () => {
        person();
        const victim = await startSignIn(t.app, 'test');
        const attacker = await startSignIn(t.app, 'test');
        const attackerCallback = await visitProvider(attacker.location ?? '');
        refusedOntoLogin(await finishSignIn(t.app, attackerCallback, victim.stateCookie), /state mismatch/);
      });

      test('a wrong state parameter', async () => {
        person();
        const start = await startSignIn(t.app, 'test');
        const callback = (await visitProvider(start.location ?? '')).replace(/state=[^&]+/, 'state=forged');
        refusedOntoLogin(await finishSignIn(t.app, callback, start.stateCookie), /state mismatch/);
      });

      test('a replayed callback: the state is spent by its first use', async () => {
        person();
        const start = await startSignIn(t.app, 'test');
        const callback = await visitProvider(start.location ?? '');
        assert.equal((await finishSignIn(t.app, callback, start.stateCookie)).location, '/account');
        refusedOntoLogin(await finishSignIn(t.app, callback, start.stateCookie), /no flow/);
      });

      test('an expired flow (over 10 minutes)', async () => {
        person();
        const start = await startSignIn(t.app, 'test');
        const callback = await visitProvider(start.location ?? '');
        t.clock.advance(601_000);
        refusedOntoLogin(await finishSignIn(t.app, callback, start.stateCookie), /no flow/);
      });

      test('a wrong PKCE verifier is refused by the provider', async () => {
        person();
        const start = await startSignIn(t.app, 'test');
        const callback = await visitProvider(start.location ?? '');
        await t.gatehouse.store.db
          .updateTable('external_sign_in_flows')
          .set({ code_verifier: 'x'.repeat(43) })
          .execute();
        refusedOntoLogin(await finishSignIn(t.app, callback, start.stateCookie), /code exchange refused/);
      });

      for (const [name, claims, reason] of [
        ['a wrong nonce', { nonce: 'not-the-one-we-sent' }, /"nonce"/],
        ['an ID token for another audience', { aud: 'someone-else' }, /"aud"/],
        ['an ID token from another issuer', { iss: 'https://evil.example' }, /"iss"/],
        [
          'an expired ID token',
          { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 },
          /"exp"/,
        ],
      ] as const) {
        test(name, async () => {
          person(claims);
          refusedOntoLogin(await signInWith(t.app, 'test'), reason);
        });
      }

      /** The flow, with the provider's ID token replaced by `forge(nonce)` (the nonce the flow sent). */
      async function withIdToken(forge: (claims: Record<string, unknown>) => Promise<string>) {
        const start = await startSignIn(t.app, 'test');
        const nonce = new URL(start.location ?? '').searchParams.get('nonce');
        const now = Math.floor(Date.now() / 1000);
        const token = await forge({
          iss: oidc.issuer,
          aud: 'gatehouse-test',
          sub: 'sub-forged',
          email: 'forged@example.com',
          email_verified: true,
          nonce,
          iat: now,
          exp: now + 600,
        });
        // beforeResponse is synchronous in the mock: the token is made first, then swapped in.
        const listener = (response: { body: Record<string, unknown> }) => {
          if (response.body.id_token) response.body.id_token = token;
        };
        oidc.server.service.on('beforeResponse', listener);
        try {
          return await finishSignIn(t.app, await visitProvider(start.location ?? ''), start.stateCookie);
        } finally {
          oidc.server.service.removeListener('beforeResponse', listener);
        }
      }

      test('an unsigned ID token (alg: none)', async () => {
        person();
        const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
        const step = await withIdToken(async (claims) => `${part({ alg: 'none' })}.${part(claims)}.`);
        refusedOntoLogin(step, /"alg"|ERR_JOSE_ALG_NOT_ALLOWED/);
      });

      test('an ID token signed with a key the provider does not publish', async () => {
        person();
        const { privateKey } = await generateKeyPair('RS256');
        const step = await withIdToken((claims) =>
          new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'stranger' }).sign(privateKey),
        );
        refusedOntoLogin(step, /ERR_JWKS_NO_MATCHING_KEY/);
      });

      test("an ID token under the provider's key id but signed with another key", async () => {
        person();
        const { privateKey } = await generateKeyPair('RS256');
        const kid = (oidc.server.issuer.keys.toJSON()[0] as { kid: string }).kid;
        const step = await withIdToken((claims) =>
          new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey),
        );
        refusedOntoLogin(step, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
      });

      test('a genuine ID token passes the same path (the forgeries above fail for their forgery)', async () => {
        person();
        const done = await withIdToken(async (claims) =>
          oidc.server.issuer.buildToken({
            scopesOrTransform: (_header: unknown, payload: Record<string, unknown>) =>
              Object.assign(payload, claims),
          }),
        );
        assert.equal(done.status, 303);
        assert.equal(done.location, '/account');
      });

      test('a mix-up: the response names another issuer (RFC 9207 iss)', async () => {
        person();
        const listener = (redirect: { url: URL }) =>
          redirect.url.searchParams.set('iss', 'https://evil.example');
        oidc.server.service.on('beforeAuthorizeRedirect', listener);
        try {
          refusedOntoLogin(await signInWith(t.app, 'test'), /"iss" \(issuer\) response parameter/);
        } finally {
          oidc.server.service.removeListener('beforeAuthorizeRedirect', listener);
        }
      });

      test('the provider says access_denied: a clear message, never a 500', async () => {
        person();
        const listener = (redirect: { url: URL }) => {
          redirect.url.searchParams.delete('code');
          redirect.url.searchParams.set('error', 'access_denied');
        };
        oidc.server.service.on('beforeAuthorizeRedirect', listener);
        try {
          const refused = await signInWith(t.app, 'test');
          assert.equal(refused.location, '/login?notice=external-cancelled');
          const page = await t.app.inject({ method: 'GET', url: refused.location ?? '' });
          assert.match(page.body, /cancelled/);
        } finally {
          oidc.server.service.removeListener('beforeAuthorizeRedirect', listener);
        }
      });
    });

    test('an unknown provider is 404', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/oauth/nope/authorize' });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().code, 'UNKNOWN_PROVIDER');
    });
  });
}

describe('external sign-in while registration is closed', () => {
  let oidc: TestOidcProvider;
  let t: TestApp;
  before(async () => {
    oidc = await startOidcProvider();
    t = await createTestApp({
      env: {
        GATEHOUSE_ISSUER: 'http://localhost:8000',
        GATEHOUSE_REGISTRATION: 'closed',
        GATEHOUSE_OIDC_TEST_ISSUER: oidc.issuer,
        GATEHOUSE_OIDC_TEST_CLIENT_ID: 'closed-client',
        GATEHOUSE_OIDC_TEST_CLIENT_SECRET: 'closed-secret',
        GATEHOUSE_OIDC_TEST_TRUST_EMAIL: 'true',
      },
    });
  });
  after(async () => {
    await t.close();
    await oidc.close();
  });

  test('an unknown person gets a clear page and no account; a linked-by-address one still signs in', async () => {
    oidc.claims = { sub: 'stranger', email: 'stranger@example.com', email_verified: true };
    const refused = await signInWith(t.app, 'test');
    assert.equal(refused.location, '/login?notice=external-registration-closed');
    const page = await t.app.inject({ method: 'GET', url: refused.location ?? '' });
    assert.match(page.body, /new accounts cannot be created here/);
    assert.equal(await t.gatehouse.accounts.findByLogin('stranger@example.com'), undefined);

    const member = await t.gatehouse.accounts.register({
      username: 'member',
      email: 'member@example.com',
      password: PASSWORD,
      emailVerified: true,
    });
    oidc.claims = { sub: 'member-sub', email: 'member@example.com', email_verified: true };
    const done = await signInWith(t.app, 'test');
    const me = await t.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { cookie: done.cookies.gatehouse_session ?? '' },
    });
    assert.equal(me.json().id, member.id);
  });
});
