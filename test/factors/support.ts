/** Helpers of the second-factor tests: enrol an authenticator app, sign in through both steps. */
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { PASSWORD, type TestApp } from '../support/gatehouse.ts';

export const ENCRYPTION_KEY = 'a'.repeat(16) + 'b'.repeat(16) + '0123456789abcdef'.repeat(2);
export const STEP_MS = 30_000;

export function tokenRequest(app: FastifyInstance, fields: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function passwordTokens(app: FastifyInstance, username: string) {
  const response = await tokenRequest(app, { username, password: PASSWORD });
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as { access_token: string; refresh_token: string };
}

/** Enrols and confirms an authenticator app; returns its id, secret and the recovery codes shown. */
export async function enrolTotp(t: Pick<TestApp, 'app' | 'clock'>, accessToken: string) {
  const started = await t.app.inject({
    method: 'POST',
    url: '/users/me/factors/totp',
    headers: bearer(accessToken),
    payload: {},
  });
  assert.equal(started.statusCode, 201, started.body);
  const { id, secret } = started.json() as { id: string; secret: string };
  const confirmed = await t.app.inject({
    method: 'POST',
    url: `/users/me/factors/totp/${id}/confirm`,
    headers: bearer(accessToken),
    payload: { code: totpCode(secret, t.clock.now()) },
  });
  assert.equal(confirmed.statusCode, 200, confirmed.body);
  // The next code must come from a later step: the one just used is spent.
  t.clock.advance(STEP_MS);
  return { id, secret, recoveryCodes: (confirmed.json().recovery_codes ?? []) as string[] };
}

/** The `mfa_token` of a password sign-in that must go on to a second step. */
export async function mfaToken(app: FastifyInstance, username: string): Promise<string> {
  const response = await tokenRequest(app, { username, password: PASSWORD });
  assert.equal(response.statusCode, 403, response.body);
  return response.json().mfa_token;
}
