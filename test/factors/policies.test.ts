/**
 * GATEHOUSE_MFA: `required` and `required_for_admins` turn a password sign-in of an account
 * without a factor into 403 `mfa_enrollment_required` with a token that can only enrol one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../../src/auth/factors/totp.ts';
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
