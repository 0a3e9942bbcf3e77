/**
 * Authenticator apps (RFC 6238) and recovery codes as a second factor: enrolment, the
 * `mfa_required` first step, the second-step grants, replay, expiry and reuse of `mfa_token`,
 * the throttle, encryption at rest, and a factor of another user.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { PAIR_BLOCK_FIRST_MS } from '../../src/auth/login-throttle.ts';
import { listAuditEvents } from '../../src/store/audit.ts';
import { storeEmailToken } from '../support/email-token.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import {
  bearer,
  ENCRYPTION_KEY,
  enrolTotp,
  mfaToken,
  passwordTokens,
  STEP_MS,
  tokenRequest,
} from './support.ts';

const OTP = 'urn:gatehouse:grant-type:mfa-otp';
const RECOVERY = 'urn:gatehouse:grant-type:mfa-recovery-code';

for (const database of DATABASES) {
  describe(`authenticator apps and recovery codes on ${database.name}`, () => {
    let t: TestApp;
    let n = 0;
    before(async () => {
      t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY,
          GATEHOUSE_LOGIN_MAX_FAILURES: '5',
          // X-Forwarded-For from the loopback (where inject's requests come from) names the client.
          GATEHOUSE_TRUST_PROXY: 'loopback',
        },
      });
    });
    after(() => t.close());

    async function enrolledUser() {
      const username = `mfa${++n}`;
      const user = await registerUser(t.app, username);
      const tokens = await passwordTokens(t.app, username);
      return { username, user, ...(await enrolTotp(t, tokens.access_token)) };
    }

    test('enrolment returns the secret, an otpauth URI and an SVG QR code; the secret is stored only encrypted', async () => {
      const username = `mfa${++n}`;
      await registerUser(t.app, username);
      const { access_token } = await passwordTokens(t.app, username);
      const response = await t.app.inject({
        method: 'POST',
        url: '/users/me/factors/totp',
        headers: bearer(access_token),
        payload: {},
      });
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.match(body.secret, /^[A-Z2-7]{32}$/);
      assert.match(body.otpauth_uri, /^otpauth:\/\/totp\/.*secret=/);
      assert.match(body.qr_svg, /^<svg[\s\S]*<\/svg>\s*$/);
      const rows = await t.gatehouse.store.db.selectFrom('factors').selectAll().execute();
      const row = rows.find((r) => r.id === body.id);
      assert.ok(row?.secret);
      assert.ok(!JSON.stringify(rows).includes(body.secret), 'the database never holds the secret in clear');
      const listed = await t.app.inject({
        method: 'GET',
        url: '/users/me/factors',
        headers: bearer(access_token),
      });
      assert.equal(listed.json().items[0].confirmed, false);
      assert.ok(!listed.body.includes(body.secret));
    });

    test('a password sign-in of an account with a confirmed app gets 403 mfa_required with a token and the factors; the right code finishes it with amr and acr', async () => {
      const { username, id, secret, recoveryCodes } = await enrolledUser();
      assert.equal(recoveryCodes.length, 10);
      const first = await tokenRequest(t.app, { username, password: PASSWORD });
      assert.equal(first.statusCode, 403, first.body);
      const body = first.json();
      assert.equal(body.error, 'mfa_required');
      assert.equal(typeof body.error_description, 'string');
      assert.deepEqual(body.factors, [{ id, type: 'totp', name: 'Authenticator app' }]);
      assert.equal(body.access_token, undefined);
      const done = await tokenRequest(t.app, {
        grant_type: OTP,
        mfa_token: body.mfa_token,
        otp: totpCode(secret, t.clock.now()),
      });
      assert.equal(done.statusCode, 200, done.body);
      const claims = decodeJwt(done.json().access_token);
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(claims.acr, 'urn:gatehouse:acr:mfa');
      assert.equal(claims.auth_time, Math.floor(t.clock.now() / 1000));
      // A refresh keeps what the session was proven with.
      const refreshed = await tokenRequest(t.app, {
        grant_type: 'refresh_token',
        refresh_token: done.json().refresh_token,
      });
      assert.equal(decodeJwt(refreshed.json().access_token).acr, 'urn:gatehouse:acr:mfa');
    });

    test('a code is accepted once: the same code (or one of an earlier step) is refused, a later step works; ±1 step of drift is accepted, 2 is not', async () => {
      const { username, secret } = await enrolledUser();
      const code = totpCode(secret, t.clock.now());
      const ok = await tokenRequest(t.app, {
        grant_type: OTP,
        mfa_token: await mfaToken(t.app, username),
        otp: code,
      });
      assert.equal(ok.statusCode, 200, ok.body);
      const replay = await tokenRequest(t.app, {
        grant_type: OTP,
        mfa_token: await mfaToken(t.app, username),
        otp: code,
      });
      assert.equal(replay.statusCode, 400);
      assert.equal(replay.json().error, 'invalid_grant');
      const earlier = totpCode(secret, t.clock.now() - STEP_MS);
      assert.equal(
        (
          await tokenRequest(t.app, {
            grant_type: OTP,
            mfa_token: await mfaToken(t.app, username),
            otp: earlier,
          })
        ).statusCode,
        400,
      );
      t.clock.advance(STEP_MS);
      const drifted = totpCode(secret, t.clock.now() + STEP_MS);
      assert.equal(
        (
          await tokenRequest(t.app, {
            grant_type: OTP,
            mfa_token: await mfaToken(t.app, username),
            otp: drifted,
          })
        ).statusCode,
        200,
      );
      t.clock.advance(3 * STEP_MS);
      const farAhead = totpCode(secret, t.clock.now() + 2 * STEP_MS);
      assert.equal(
        (
          await tokenRequest(t.app, {
            grant_type: OTP,
            mfa_token: await mfaToken(t.app, username),
            otp: farAhead,
          })
        ).statusCode,
        400,
      );
    });

    test('mfa_token: a wrong code leaves it usable, a used one is refused, one older than 5 minutes is refused, and one from /login does not finish a /token sign-in', async () => {
      const { username, secret } = await enrolledUser();
      const token = await mfaToken(t.app, username);
      const wrong = await tokenRequest(t.app, {
        grant_type: OTP,
        mfa_token: token,
        otp: '000000' === totpCode(secret, t.clock.now()) ? '111111' : '000000',
      });
      assert.equal(wrong.statusCode, 400);
      assert.equal(wrong.json().code ?? wrong.json().error, 'invalid_grant');
      assert.equal(
        (
          await tokenRequest(t.app, {
            grant_type: OTP,
            mfa_token: token,
            otp: totpCode(secret, t.clock.now()),
          })
        ).statusCode,
        200,
      );
      t.clock.advance(STEP_MS);
      const reused = await tokenRequest(t.app, {
        grant_type: OTP,
        mfa_token: token,
        otp: totpCode(secret, t.clock.now()),
      });
      assert.equal(reused.statusCode, 400);
      assert.equal(reused.json().error, 'invalid_grant');
      const old = await mfaToken(t.app, username);
      t.clock.advance(5 * 60_000 + 1000);
      assert.equal(
        (await tokenRequest(t.app, { grant_type: OTP, mfa_token: old, otp: totpCode(secret, t.clock.now()) }))
          .statusCode,
        400,
      );
      const login = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username, password: PASSWORD },
      });
      assert.equal(login.statusCode, 403, login.body);
      assert.equal(login.json().error, 'mfa_required');
      assert.equal(login.headers['set-cookie'], undefined);
      assert.equal(
        (
          await tokenRequest(t.app, {
            grant_type: OTP,
            mfa_token: login.json().mfa_token,
            otp: totpCode(secret, t.clock.now()),
          })
        ).statusCode,
        400,
      );
      assert.equal(
        (await tokenRequest(t.app, { grant_type: OTP, mfa_token: 'mfa_forged.token', otp: '123456' }))
          .statusCode,
        400,
      );
    });

    test('POST /login then POST /login/mfa sets the session cookie', async () => {
      const { username, secret } = await enrolledUser();
      const login = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { username, password: PASSWORD },
      });
      const done = await t.app.inject({
        method: 'POST',
        url: '/login/mfa',
        payload: { mfa_token: login.json().mfa_token, otp: totpCode(secret, t.clock.now()) },
      });
      assert.equal(done.statusCode, 200, done.body);
      assert.match(String(done.headers['set-cookie']), /gatehouse_session=/);
      assert.equal(done.json().username, username);
    });

    test('the magic-link grant of an account with a factor also stops at mfa_required', async () => {
      const { user, secret } = await enrolledUser();
      const token = await storeEmailToken(t, 'magic', { id: user.id, email: `${user.username}@example.com` });
      const first = await tokenRequest(t.app, { grant_type: 'urn:gatehouse:grant-type:magic-link', token });
      assert.equal(first.statusCode, 403, first.body);
      const done = await tokenRequest(t.app, {
        grant_type: OTP,
        mfa_token: first.json().mfa_token,
        otp: totpCode(secret, t.clock.now()),
      });
      assert.equal(done.statusCode, 200, done.body);
      assert.deepEqual(decodeJwt(done.json().access_token).amr, ['email', 'otp', 'mfa']);
    });

    /** A `/token` request as a client at `ip` (the test app trusts the loopback proxy that says so). */
    const tokenFrom = (ip: string, fields: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        payload: new URLSearchParams(fields).toString(),
      });

    test('wrong codes count per account from any address: five from five addresses, and the sixth from a sixth waits as long as a sixth wrong password does', async () => {
      const { username, user, secret } = await enrolledUser();
      const token = await mfaToken(t.app, username);
      const right = totpCode(secret, t.clock.now());
      const wrongCode = right === '123456' ? '654321' : '123456';
      const addresses = ['203.0.113.1', '203.0.113.2', '198.51.100.3', '2001:db8:1::4', '2001:db8:2::5'];
      for (const ip of addresses) {
        const response = await tokenFrom(ip, { grant_type: OTP, mfa_token: token, otp: wrongCode });
        assert.equal(response.statusCode, 400, `from ${ip}: ${response.body}`);
      }
      const failures = (
        await listAuditEvents(t.gatehouse.store.db, { event: 'login.failed', limit: 1000 })
      ).filter((e) => e.userId === user.id && e.details?.reason === 'wrong_otp');
      assert.deepEqual(
        failures.map((e) => e.ip).sort(),
        [...addresses].sort(),
        'each came from its own address',
      );
      const sixth = await tokenFrom('192.0.2.6', { grant_type: OTP, mfa_token: token, otp: wrongCode });
      assert.equal(sixth.statusCode, 429, sixth.body);
      const rightCode = await tokenFrom('192.0.2.7', { grant_type: OTP, mfa_token: token, otp: right });
      assert.equal(rightCode.statusCode, 429, 'even the right code waits');

      // Passwords, for comparison: five wrong ones from one address, then the sixth.
      const other = `pw${++n}`;
      await registerUser(t.app, other);
      for (let i = 0; i < 5; i++) {
        const response = await tokenFrom('192.0.2.50', { username: other, password: 'not the password' });
        assert.equal(response.statusCode, 401, `password ${i + 1}`);
      }
      const sixthPassword = await tokenFrom('192.0.2.50', { username: other, password: 'not the password' });
      assert.equal(sixthPassword.statusCode, 429);
      assert.equal(sixth.headers['retry-after'], sixthPassword.headers['retry-after'], 'the same backoff');
      assert.equal(Number(sixth.headers['retry-after']), PAIR_BLOCK_FIRST_MS / 1000);

      t.clock.advance(2 * 60_000);
      const after = await tokenRequest(t.app, {
        grant_type: OTP,
        mfa_token: await mfaToken(t.app, username),
        otp: totpCode(secret, t.clock.now()),
      });
      assert.equal(after.statusCode, 200, after.body);
    });

    test('a recovery code signs in once: the same code twice is refused; the count drops, the use is audited', async () => {
      const { username, user, recoveryCodes } = await enrolledUser();
      const code = recoveryCodes[0] ?? '';
      const done = await tokenRequest(t.app, {
        grant_type: RECOVERY,
        mfa_token: await mfaToken(t.app, username),
        recovery_code: code.toUpperCase(),
      });
      assert.equal(done.statusCode, 200, done.body);
      const again = await tokenRequest(t.app, {
        grant_type: RECOVERY,
        mfa_token: await mfaToken(t.app, username),
        recovery_code: code,
      });
      assert.equal(again.statusCode, 400);
      const listed = await t.app.inject({
        method: 'GET',
        url: '/users/me/factors',
        headers: bearer(done.json().access_token),
      });
      assert.equal(listed.json().recovery_codes_remaining, 9);
      const used = (
        await listAuditEvents(t.gatehouse.store.db, { event: 'recovery_code.used', limit: 100 })
      ).filter((e) => e.userId === user.id);
      assert.equal(used.length, 1);
      const stored = await t.gatehouse.store.db.selectFrom('recovery_codes').selectAll().execute();
      assert.ok(!JSON.stringify(stored).includes(code.replace('-', '')), 'only hashes are stored');
    });

    test('regenerating recovery codes needs a sign-in with the second factor; the old codes stop working', async () => {
      const { username, secret, recoveryCodes } = await enrolledUser();
      const { access_token: mfaAccess } = (
        await tokenRequest(t.app, {
          grant_type: OTP,
          mfa_token: await mfaToken(t.app, username),
          otp: totpCode(secret, t.clock.now()),
        })
      ).json();
      const fresh = await t.app.inject({
        method: 'POST',
        url: '/users/me/recovery-codes',
        headers: bearer(mfaAccess),
      });
      assert.equal(fresh.statusCode, 200, fresh.body);
      assert.equal(fresh.json().recovery_codes.length, 10);
      const old = await tokenRequest(t.app, {
        grant_type: RECOVERY,
        mfa_token: await mfaToken(t.app, username),
        recovery_code: recoveryCodes[1] ?? '',
      });
      assert.equal(old.statusCode, 400);
    });

    test("a factor of another user can be neither confirmed nor removed (404), and another user's recovery code does not work", async () => {
      const owner = await enrolledUser();
      const other = await enrolledUser();
      const otherAccess = (
        await tokenRequest(t.app, {
          grant_type: OTP,
          mfa_token: await mfaToken(t.app, other.username),
          otp: totpCode(other.secret, t.clock.now()),
        })
      ).json().access_token;
      const confirm = await t.app.inject({
        method: 'POST',
        url: `/users/me/factors/totp/${owner.id}/confirm`,
        headers: bearer(otherAccess),
        payload: { code: '123456' },
      });
      assert.equal(confirm.statusCode, 404);
      const remove = await t.app.inject({
        method: 'DELETE',
        url: `/users/me/factors/${owner.id}`,
        headers: bearer(otherAccess),
      });
      assert.equal(remove.statusCode, 404);
      assert.equal(remove.json().code, 'FACTOR_NOT_FOUND');
      const crossed = await tokenRequest(t.app, {
        grant_type: RECOVERY,
        mfa_token: await mfaToken(t.app, other.username),
        recovery_code: owner.recoveryCodes[0] ?? '',
      });
      assert.equal(crossed.statusCode, 400);
    });
  });
}
