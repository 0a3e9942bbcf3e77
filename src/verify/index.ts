/**
 * `gatehouse/verify`: for services that only check Gatehouse tokens. No database: keys come from
 * the issuer's JWKS (fetched, cached and refetched on an unknown `kid` by jose, so rotation is
 * followed). The checks are the server's: the algorithm allowlist, `typ: at+jwt`, `iss`, `aud`,
 * `exp`, 30 s of skew. What a resource server cannot know without the database — a logout or a
 * disabled user — reaches it when the access token expires (15 minutes by default).
 *
 * @example
 * import { createVerifier } from 'gatehouse/verify';
 * const verifier = createVerifier({ issuer: 'https://auth.example.com' });
 * app.get('/reports', { onRequest: verifier.guards.requireScopes('reports:read') }, handler); // Fastify
 * const principal = await verifier.principal(req); // any framework: null when no token is sent
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';

export interface VerifierOptions {
  readonly issuer: string;
  /** Defaults to the issuer, as on the server. */
  readonly audience?: string;
  /** Defaults to `${issuer}/.well-known/jwks.json`. */
  readonly jwksUri?: string;
  /** Algorithms to accept; default the asymmetric ones Gatehouse signs with. */
  readonly algorithms?: readonly string[];
  /**
   * Milliseconds after a JWKS fetch during which an unknown `kid` does not trigger another fetch
   * (jose's default, 30 s). Tokens from a key rotated in within that window are refused until it
   * passes.
   */
  readonly cooldownDuration?: number;
  /** Time source for `exp`, `nbf` and `auth_time` checks (tests); default the system clock. */
  readonly clock?: { now(): number };
}

export interface VerifiedClaims extends JWTPayload {
  readonly sub: string;
  readonly scope?: string;
  readonly roles?: string[];
  readonly preferred_username?: string;
  readonly client_id?: string;
  readonly sid?: string;
  /** When the user last proved a credential in the session (RFC 9470), seconds. */
  readonly auth_time?: number;
}

export interface TokenPrincipal {
  readonly userId: string;
  readonly username: string | undefined;
  readonly roles: readonly string[];
  readonly scopes: ReadonlySet<string>;
  readonly claims: VerifiedClaims;
}

/** A refused request: `status` 401 (no or bad token) or 403 (missing scope or role). */
export class VerifyError extends Error {
  readonly status: 401 | 403;
  readonly wwwAuthenticate: string;
  /** The server's error code when the refusal has one (`REAUTH_REQUIRED`). */
  readonly code: string | undefined;
  constructor(status: 401 | 403, message: string, wwwAuthenticate: string, code?: string) {
    super(message);
    this.status = status;
    this.wwwAuthenticate = wwwAuthenticate;
    this.code = code;
  }
}

/** How recent a sign-in `requireRecentAuth` asks for: seconds, or a duration such as `'5m'`. */
export interface RecentAuthOptions {
  /** Default 600 (10 minutes), the server's `GATEHOUSE_REAUTH_MAX_AGE` default. */
  readonly maxAge?: number | string;
}

const DURATION_UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function maxAgeSecondsOf(options: RecentAuthOptions | undefined): number {
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

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface VerifierGuards {
  requireUser: Hook;
  optionalUser: Hook;
  requireScopes(...scopes: string[]): Hook;
  requirePermission(permission: string): Hook;
  requireRoles(...roles: string[]): Hook;
  /**
   * RFC 9470 step-up: the token's `auth_time` must lie within `maxAge`; otherwise 401
   * `REAUTH_REQUIRED` with `WWW-Authenticate: Bearer error="insufficient_user_authentication"`,
   * as the server answers. A token without `auth_time` never passes.
   */
  requireRecentAuth(options?: RecentAuthOptions): Hook;
}

export interface Verifier {
  /** Resolves with the claims of a valid access token; rejects with a VerifyError (401). */
  verify(token: string): Promise<VerifiedClaims>;
  /**
   * The caller of a Node or Fetch request: null when it sends no bearer token; rejects with a
   * VerifyError (401) for a bad one.
   */
  principal(request: {
    headers: Headers | Record<string, string | string[] | undefined>;
  }): Promise<TokenPrincipal | null>;
  /** Fastify `onRequest` hooks that set `request.tokenPrincipal` and answer 401/403 as the server does. */
  readonly guards: VerifierGuards;
}

declare module 'fastify' {
  interface FastifyRequest {
    tokenPrincipal?: TokenPrincipal | null;
  }
}

const MAX_TOKEN_BYTES = 8192;

function authorizationOf(
  headers: Headers | Record<string, string | string[] | undefined>,
): string | undefined {
  if (typeof (headers as Headers).get === 'function')
    return (headers as Headers).get('authorization') ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>).authorization;
  return Array.isArray(value) ? value[0] : value;
}

export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options?.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('createVerifier: option "issuer" must be the Gatehouse issuer URL');
  }
  const issuer = options.issuer.replace(/\/+$/, '');
  const jwks = createRemoteJWKSet(
    new URL(options.jwksUri ?? `${issuer}/.well-known/jwks.json`),
    options.cooldownDuration !== undefined ? { cooldownDuration: options.cooldownDuration } : {},
  );
  const algorithms = [...(options.algorithms ?? ['EdDSA', 'ES256', 'RS256'])];
  const invalid = () =>
    new VerifyError(401, 'Could not validate credentials', 'Bearer error="invalid_token"');

  async function verify(token: string): Promise<VerifiedClaims> {
    if (Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) throw invalid();
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience: options.audience ?? issuer,
        algorithms,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: 30,
        ...(options.clock ? { currentDate: new Date(options.clock.now()) } : {}),
      });
      return payload as VerifiedClaims;
    } catch {
      throw invalid();
    }
  }

  async function principal(request: Parameters<Verifier['principal']>[0]): Promise<TokenPrincipal | null> {
    const header = authorizationOf(request.headers);
    if (header === undefined) return null;
    const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
    if (!match?.[1]) throw new VerifyError(401, 'Not authenticated', 'Bearer');
    const claims = await verify(match[1]);
    return {
      userId: claims.sub,
      username: claims.preferred_username,
      roles: claims.roles ?? [],
      scopes: new Set((claims.scope ?? '').split(' ').filter(Boolean)),
      claims,
    };
  }

  const refuse = (reply: FastifyReply, error: VerifyError) =>
    reply
      .code(error.status)
      .header('www-authenticate', error.wwwAuthenticate)
      .send(
        error.code === undefined ? { detail: error.message } : { detail: error.message, code: error.code },
      );

  const guardWith =
    (required: boolean, check?: (p: TokenPrincipal) => VerifyError | undefined): Hook =>
    async (request, reply) => {
      try {
        const found = await principal(request);
        if (found === null && required) throw new VerifyError(401, 'Not authenticated', 'Bearer');
        request.tokenPrincipal = found;
        const refused = found && check ? check(found) : undefined;
        if (refused) throw refused;
      } catch (error) {
        if (error instanceof VerifyError) return refuse(reply, error);
        throw error;
      }
    };

  const forbidden = (scopes: readonly string[]) =>
    new VerifyError(
      403,
      'Not enough permissions',
      scopes.length > 0
        ? `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"`
        : 'Bearer error="insufficient_scope"',
    );
  const reauthRequired = (maxAge: number) =>
    new VerifyError(
      401,
      'Recent sign-in required',
      `Bearer error="insufficient_user_authentication", error_description="Recent sign-in required", max_age=${maxAge}`,
      'REAUTH_REQUIRED',
    );
  const requireRecentAuth = (recentAuth?: RecentAuthOptions): Hook => {
    const maxAge = maxAgeSecondsOf(recentAuth);
    return guardWith(true, (p) => {
      const authTime = p.claims.auth_time;
      const recent =
        typeof authTime === 'number' &&
        Number.isFinite(authTime) &&
        Math.floor((options.clock?.now() ?? Date.now()) / 1000) - authTime <= maxAge;
      return recent ? undefined : reauthRequired(maxAge);
    });
  };
  const requireScopes = (...scopes: string[]) =>
    guardWith(true, (p) => (scopes.every((s) => p.scopes.has(s)) ? undefined : forbidden(scopes)));

  return {
    verify,
    principal,
    guards: {
      requireUser: guardWith(true),
      optionalUser: guardWith(false),
      requireScopes,
      requirePermission: (permission) => requireScopes(permission),
      requireRoles: (...roles) =>
        guardWith(true, (p) => (p.roles.some((r) => roles.includes(r)) ? undefined : forbidden([]))),
      requireRecentAuth,
    },
  };
}
