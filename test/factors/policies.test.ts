/**
 * GATEHOUSE_MFA: `required` and `required_for_admins` turn a password sign-in of an account
 * without a factor into 403 `mfa_enrollment_required` with a token that can only enrol one; on the
 * pages that token finishes the cookie sign-in once its first factor is confirmed, and only then.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { browserFormHeaders, form } from '../pages/form-client.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { bearer, ENCRYPTION_KEY, mfaToken, STEP_MS, tokenRequest } from './support.ts';

for (const database of DATABASES) {
  describe(`MFA policies on ${database.name}`, () => {
    let required: TestApp;
    let admins: TestApp;
    before(async () => {
      const env = { GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY };
      required = await createTestApp({
        databaseUrl: database.url,
        env: { ...env, GATEHOUSE_MFA: 'required' },
      });
      admins = await createTestApp({
        databaseUrl: database.url,
        env: { ...env, GATEHOUSE_MFA: 'required_for_admins' },
      });
    });
    after(async () => {
      await required.close();
      await admins.close();
    });

    async function enrollmentToken(t: TestApp, username: string): Promise<string> {
      const response = await tokenRequest(t.app, { username, password: PASSWORD });
      assert.equal(response.statusCode, 403, response.body);
      const body = response.json();
      assert.equal(body.error, 'mfa_enrollment_required');
      assert.equal(body.access_token, undefined);
      assert.match(body.enrollment_token, /^enr_/);
      return body.enrollment_token;
    }

    test('required: a user without a factor gets an enrollment token, enrols with it, and then signs in with two factors', async () => {
      await registerUser(required.app, 'alice');
      const token = await enrollmentToken(required, 'alice');
      const login = await required.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'alice', password: PASSWORD },
      });
      assert.equal(login.statusCode, 403);
      assert.equal(login.json().error, 'mfa_enrollment_required');
      const started = await required.app.inject({
        method: 'POST',
        url: '/users/me/factors/totp',
        headers: bearer(token),
        payload: {},
      });
      assert.equal(started.statusCode, 201, started.body);
      const { id, secret } = started.json();
      const confirmed = await required.app.inject({
        method: 'POST',
        url: `/users/me/factors/totp/${id}/confirm`,
        headers: bearer(token),
        payload: { code: totpCode(secret, required.clock.now()) },
      });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      assert.equal(confirmed.json().recovery_codes.length, 10);
      // Spent once its factor is confirmed.
      const again = await required.app.inject({
        method: 'GET',
        url: '/users/me/factors',
        headers: bearer(token),
      });
      assert.equal(again.statusCode, 400);
      required.clock.advance(STEP_MS);
      const done = await tokenRequest(required.app, {
        grant_type: 'urn:gatehouse:grant-type:mfa-otp',
        mfa_token: await mfaToken(required.app, 'alice'),
        otp: totpCode(secret, required.clock.now()),
      });
      assert.equal(done.statusCode, 200, done.body);
    });

    test('an enrollment token is good for nothing else: not /users/me, not a token grant, not another route', async () => {
      await registerUser(required.app, 'bob');
      const token = await enrollmentToken(required, 'bob');
      for (const request of [
        { method: 'GET' as const, url: '/users/me' },
        { method: 'GET' as const, url: '/sessions' },
        { method: 'POST' as const, url: '/api-keys', payload: { name: 'x', scopes: [] } },
        { method: 'DELETE' as const, url: '/users/me/factors/anything' },
        { method: 'POST' as const, url: '/users/me/recovery-codes' },
      ]) {
        const response = await required.app.inject({ ...request, headers: bearer(token) });
        assert.equal(response.statusCode, 401, `${request.method} ${request.url}: ${response.body}`);
      }
      const asMfa = await tokenRequest(required.app, {
        grant_type: 'urn:gatehouse:grant-type:mfa-otp',
        mfa_token: token,
        otp: '123456',
      });
      assert.equal(asMfa.statusCode, 400);
      assert.equal(asMfa.json().error, 'invalid_grant');
      required.clock.advance(11 * 60_000);
      const expired = await required.app.inject({
        method: 'GET',
        url: '/users/me/factors',
        headers: bearer(token),
      });
      assert.equal(expired.statusCode, 400);
    });

    test("pages: the enrolment's token finishes only its own cookie sign-in, once, from this origin", async () => {
      await registerUser(required.app, 'erin');
      const post = (url: string, fields: Record<string, string>, headers = browserFormHeaders()) =>
        required.app.inject({ method: 'POST', url, headers, payload: form(fields) });
      const login = await post('/login', { username: 'erin', password: PASSWORD });
      assert.equal(login.statusCode, 200, login.body);
      assert.equal(login.headers['set-cookie'], undefined);
      const token = /name="enrollment_token" value="([^"]+)"/.exec(login.body)?.[1] ?? '';
      assert.match(token, /^enr_/);

      const crossSite = await post(
        '/login/enrollment/totp',
        { enrollment_token: token },
        browserFormHeaders({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
      );
      assert.equal(crossSite.statusCode, 403, crossSite.body);
      const setup = await post('/login/enrollment/totp', { enrollment_token: token });
      assert.equal(setup.statusCode, 200, setup.body);
      const secret =
        /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(setup.body)?.[1]?.replace(/ /g, '') ?? '';
      const action =
        /action="(\/login\/enrollment\/factors\/totp\/[^"]+\/confirm)"/.exec(setup.body)?.[1] ?? '';

      // A /token sign-in's enrollment token (an API client's) and an mfa_token finish no cookie sign-in.
      const apiToken = await enrollmentToken(required, 'erin');
      const code = totpCode(secret, required.clock.now());
      for (const other of [apiToken, 'mfa_x.y']) {
        const refused = await post(action, { enrollment_token: other, code });
        assert.equal(refused.statusCode, 400, refused.body);
        assert.equal(refused.headers['set-cookie'], undefined);
      }
      const done = await post(action, { enrollment_token: token, code });
      assert.equal(done.statusCode, 200, done.body);
      assert.match(String(done.headers['set-cookie']), /gatehouse_session=/);
      assert.equal([...done.body.matchAll(/<li><code>/g)].length, 10);
      const again = await post(action, { enrollment_token: token, code });
      assert.equal(again.statusCode, 400, 'spent');
      assert.equal(again.headers['set-cookie'], undefined);
    });

    test('required_for_admins: an admin without a factor must enrol; a plain user signs in with the password alone', async () => {
      await admins.gatehouse.accounts.register({
        username: 'root',
        email: 'root@example.com',
        password: PASSWORD,
        roles: ['user', 'admin'],
      });
      await registerUser(admins.app, 'carol');
      await enrollmentToken(admins, 'root');
      assert.equal(
        (await tokenRequest(admins.app, { username: 'carol', password: PASSWORD })).statusCode,
        200,
      );
    });
  });
}
