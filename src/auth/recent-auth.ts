/**
 * Step-up authentication (RFC 9470): sensitive actions need a credential proven recently, not
 * just a live session. A refresh keeps the session's `auth_time`; only a sign-in or
 * `POST /reauthenticate` renews it.
 */
import { ReauthRequiredError } from './errors.ts';

/**
 * Throws ReauthRequiredError unless `authTimeMs` lies within `maxAgeSeconds` of `nowMs`.
 * `undefined` (an API key, or a token issued before `auth_time` existed) never counts as recent.
 */
export function assertRecentAuth(authTimeMs: number | undefined, maxAgeSeconds: number, nowMs: number): void {
  // Compared in whole seconds, as `auth_time` is a NumericDate (RFC 7519 §2).
  const ageSeconds =
    authTimeMs === undefined || !Number.isFinite(authTimeMs)
      ? Number.POSITIVE_INFINITY
      : Math.floor(nowMs / 1000) - Math.floor(authTimeMs / 1000);
  if (!(ageSeconds <= maxAgeSeconds)) throw new ReauthRequiredError(maxAgeSeconds);
}

/** The `auth_time` claim of a verified token in ms, or undefined when it has none. */
export function authTimeOfClaims(claims: { readonly auth_time?: unknown }): number | undefined {
  const value = claims.auth_time;
  return typeof value === 'number' && Number.isFinite(value) ? value * 1000 : undefined;
}
