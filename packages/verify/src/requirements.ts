/**
 * What a route asks of its caller, checked once here for every adapter: each guard (Fastify hook,
 * Express middleware, Hono middleware, `verifyRequest`) is one `Requirement`. A new kind of check
 * is a field here, a line in `refusalOf` and, if it deserves one, a guard in `guardsOf`.
 */
import {
  insufficientScope,
  MFA_ACR,
  mfaStepUpRequired,
  notAuthenticated,
  reauthRequired,
  type VerifyError,
} from './errors.ts';
import type { TokenPrincipal } from './principal.ts';

export interface Requirement {
  /** Let a request without a token through with a null principal (a bad token is still 401). */
  readonly optional?: boolean;
  /** Every one of these scopes; else 403 `insufficient_scope` naming them. */
  readonly scopes?: readonly string[];
  /** At least one of these roles; else 403 `insufficient_scope`. */
  readonly roles?: readonly string[];
  /** A sign-in (`auth_time`) at most this many seconds old; else 401 `REAUTH_REQUIRED`. */
  readonly maxAuthAgeSeconds?: number;
  /** A session proven with two factors (`acr`); else 401 `MFA_STEP_UP_REQUIRED` with `acr_values`. */
  readonly mfa?: boolean;
}

/** How recent a sign-in `requireRecentAuth` asks for: seconds, or a duration such as `'5m'`. */
export interface RecentAuthOptions {
  /** Default 600 (10 minutes), the server's `GATEHOUSE_REAUTH_MAX_AGE` default. */
  readonly maxAge?: number | string;
  /** Also a sign-in with two factors (`acr` `urn:gatehouse:acr:mfa`), RFC 9470 `acr_values`. */
  readonly mfa?: boolean;
}

const DURATION_UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `maxAge` in seconds; a bad value is the developer's mistake, a TypeError when the route is declared. */
export function maxAgeSecondsOf(options: RecentAuthOptions | undefined): number {
  const maxAge = options?.maxAge ?? 600;
  const match = typeof maxAge === 'string' ? /^(\d{1,9})([smhd]?)$/.exec(maxAge.trim()) : undefined;
  const seconds =
    typeof maxAge === 'number'
      ? maxAge
      : match
        ? Number(match[1]) * (DURATION_UNIT_SECONDS[match[2] || 's'] ?? 1)
        : Number.NaN;
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new TypeError(
      'requireRecentAuth: option "maxAge" must be whole seconds or a duration such as "5m"',
    );
  }
  return seconds;
}

/** Why `principal` does not meet `requirement`, or undefined when it does. */
export function refusalOf(
  principal: TokenPrincipal | null,
  requirement: Requirement,
  nowMs: number = Date.now(),
): VerifyError | undefined {
  if (principal === null) return requirement.optional ? undefined : notAuthenticated();
  const scopes = requirement.scopes ?? [];
  if (!scopes.every((scope) => principal.scopes.has(scope))) return insufficientScope(scopes);
  const roles = requirement.roles;
  if (roles !== undefined && !principal.roles.some((role) => roles.includes(role))) {
    return insufficientScope([]);
  }
  const maxAge = requirement.maxAuthAgeSeconds;
  if (maxAge !== undefined) {
    const authTime = principal.claims.auth_time;
    const recent =
      typeof authTime === 'number' &&
      Number.isFinite(authTime) &&
      Math.floor(nowMs / 1000) - authTime <= maxAge;
    if (requirement.mfa && (!recent || principal.claims.acr !== MFA_ACR)) return mfaStepUpRequired(maxAge);
    if (!recent) return reauthRequired(maxAge);
  }
  return undefined;
}

/** The same six guards in every framework's shape. */
export interface Guards<Guard> {
  /** Any valid access token. */
  readonly requireUser: Guard;
  /** A valid token or none (the principal is then null); a bad token is refused. */
  readonly optionalUser: Guard;
  /** A token granted every one of `scopes`. */
  requireScopes(...scopes: string[]): Guard;
  /** A token granted `permission` (a permission is granted as a scope). */
  requirePermission(permission: string): Guard;
  /** A user holding at least one of `roles`. */
  requireRoles(...roles: string[]): Guard;
  /**
   * RFC 9470 step-up: a token whose `auth_time` lies within `maxAge` (default 600 s); otherwise
   * 401 `REAUTH_REQUIRED` with `WWW-Authenticate: Bearer error="insufficient_user_authentication"`,
   * as the server answers. A token without `auth_time` (an API key's caller) never passes.
   * With `mfa: true` the sign-in must also have used two factors (`acr`), else 401
   * `MFA_STEP_UP_REQUIRED` with `acr_values="urn:gatehouse:acr:mfa"`.
   */
  requireRecentAuth(options?: RecentAuthOptions): Guard;
}

/** Builds the six guards from one function that turns a `Requirement` into a framework's guard. */
export function guardsOf<Guard>(guard: (requirement: Requirement) => Guard): Guards<Guard> {
  return {
    requireUser: guard({}),
    optionalUser: guard({ optional: true }),
    requireScopes: (...scopes) => guard({ scopes }),
    requirePermission: (permission) => guard({ scopes: [permission] }),
    requireRoles: (...roles) => guard({ roles }),
    requireRecentAuth: (options) =>
      guard({ maxAuthAgeSeconds: maxAgeSecondsOf(options), ...(options?.mfa ? { mfa: true } : {}) }),
  };
}
