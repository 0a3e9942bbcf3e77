/**
 * MFA step-up (RFC 9470 `acr_values`): `requireRecentAuth({ maxAge, mfa: true })` on a host app's
 * routes in the plugin and in the verifier (every adapter), and Gatehouse's own sensitive actions,
 * which need a sign-in with two factors once the account has a second factor.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { createVerifier } from '../../packages/verify/src/index.ts';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { createManualClock, gatehouse } from '../../src/index.ts';
import { PASSWORD, registerUser } from '../support/gatehouse.ts';
import { ADAPTERS } from '../verify/adapters.ts';
import {
  bearer,
  ENCRYPTION_KEY,
  enrolTotp,
  mfaToken,
  passwordTokens,
  STEP_MS,
  tokenRequest,
} from './support.ts';

const MINUTE = 60_000;
const CHALLENGE = (maxAge: number) =>
  `Bearer error="insufficient_user_authentication", error_description="Sign-in with a second factor required", acr_values="urn:gatehouse:acr:mfa", max_age=${maxAge}`;

function assertMfaStepUp(
  response: LightMyRequestResponse | { status: number; wwwAuthenticate: string | null; body: unknown },
  maxAge: number,
) {
  const status = 'statusCode' in response ? response.statusCode : response.status;
  const header = 'statusCode' in response ? response.headers['www-authenticate'] : response.wwwAuthenticate;
  const body = 'statusCode' in response ? response.json() : response.body;
  assert.equal(status, 401, JSON.stringify(body));
  assert.equal(header, CHALLENGE(maxAge));
  assert.deepEqual(body, { detail: 'Sign-in with a second factor required', code: 'MFA_STEP_UP_REQUIRED' });
}

describe('MFA step-up', () => {
  let app: FastifyInstance;
  let address: string;
  const clock = createManualClock(Date.now());
  const outboxDir = mkdtempSync(join(tmpdir(), 'gatehouse-mfa-step-up-'));
  let secret: string;
  before(async () => {
    app = Fastify();
    await app.register(gatehouse, {
      databaseUrl: 'sqlite::memory:',
      issuer: 'https://api.example.com',
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
      logLevel: 'silent',
      encryptionKeys: [ENCRYPTION_KEY],
      outboxDir,
      clock,
    });
    const { guards } = app.gatehouse;
    app.post('/payouts', { onRequest: guards.requireRecentAuth({ maxAge: '5m', mfa: true }) }, async () => ({
      paid: true,
    }));
    address = await app.listen({ host: '127.0.0.1', port: 0 });
    await registerUser(app, 'alice');
    secret = (await enrolTotp({ app, clock }, (await passwordTokens(app, 'alice')).access_token)).secret;
  });
  after(async () => {
    await app.close();
    rmSync(outboxDir, { recursive: true, force: true });
  });

  async function mfaAccess(): Promise<string> {
    clock.advance(STEP_MS);
    const done = await tokenRequest(app, {
      grant_type: 'urn:gatehouse:grant-type:mfa-otp',
      mfa_token: await mfaToken(app, 'alice'),
      otp: totpCode(secret, clock.now()),
    });
    assert.equal(done.statusCode, 200, done.body);
    return done.json().access_token;
  }

  /** A password-only session of alice (her factor is switched off for the first step only). */
  async function passwordOnlyAccess(): Promise<string> {
    const token = (
      await app.inject({
        method: 'POST',
        url: '/reauthenticate',
        headers: bearer(await mfaAccess()),
        payload: { password: PASSWORD },
      })
    ).json();
    return token.access_token;
  }

  test('a host route behind requireRecentAuth({ mfa: true }): a password-only token is refused with acr_values; an MFA one passes until maxAge', async () => {
    assertMfaStepUp(
      await app.inject({ method: 'POST', url: '/payouts', headers: bearer(await passwordOnlyAccess()) }),
      300,
    );
    const access = await mfaAccess();
    assert.equal(
      (await app.inject({ method: 'POST', url: '/payouts', headers: bearer(access) })).statusCode,
      200,
    );
    clock.advance(6 * MINUTE);
    assertMfaStepUp(await app.inject({ method: 'POST', url: '/payouts', headers: bearer(access) }), 300);
  });

  test('POST /reauthenticate with the password and a code makes the session two-factor again', async () => {
    const stale = await mfaAccess();
    clock.advance(6 * MINUTE);
    clock.advance(STEP_MS);
    const reauth = await app.inject({
      method: 'POST',
      url: '/reauthenticate',
      headers: bearer(stale),
      payload: { password: PASSWORD, otp: totpCode(secret, clock.now()) },
    });
    assert.equal(reauth.statusCode, 200, reauth.body);
    assert.equal(
      (await app.inject({ method: 'POST', url: '/payouts', headers: bearer(reauth.json().access_token) }))
        .statusCode,
      200,
    );
  });

  test("Gatehouse's sensitive actions need two factors once the account has one: API keys, email change, recovery codes, adding factors", async () => {
    const single = await passwordOnlyAccess();
    const actions = [
      { method: 'POST' as const, url: '/api-keys', payload: { name: 'ci', scopes: ['profile:read'] } },
      { method: 'PATCH' as const, url: '/users/me', payload: { email: 'elsewhere@example.com' } },
      { method: 'POST' as const, url: '/users/me/recovery-codes' },
      { method: 'POST' as const, url: '/users/me/factors/totp', payload: {} },
      { method: 'POST' as const, url: '/users/me/factors/webauthn/options' },
    ];
    for (const action of actions) {
      assertMfaStepUp(await app.inject({ ...action, headers: bearer(single) }), 600);
    }
    const both = await mfaAccess();
    const key = await app.inject({
      method: 'POST',
      url: '/api-keys',
      headers: bearer(both),
      payload: { name: 'ci', scopes: [] },
    });
    assert.equal(key.statusCode, 201, key.body);
  });

  test('the verifier answers the same on every adapter: a password-only token gets MFA_STEP_UP_REQUIRED with acr_values, an MFA token passes', async () => {
    const verifier = createVerifier({
      issuer: 'https://api.example.com',
      jwksUri: `${address}/.well-known/jwks.json`,
      clock,
    });
    const single = await passwordOnlyAccess();
    const both = await mfaAccess();
    for (const adapter of ADAPTERS) {
      const built = await adapter.build(verifier);
      try {
        assertMfaStepUp(await built.request('/mfa', `Bearer ${single}`), 300);
        const ok = await built.request('/mfa', `Bearer ${both}`);
        assert.equal(ok.status, 200, `${adapter.name}: ${JSON.stringify(ok.body)}`);
      } finally {
        await built.close();
      }
    }
  });
});
