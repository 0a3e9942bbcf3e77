/**
 * Who is calling. Guards are preHandlers that set `request.principal`; routes declare the same
 * guard in their OpenAPI security so /docs shows it. Every guard that accepts a bearer token
 * also accepts the session cookie, with CSRF defence for state-changing requests.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { isApiKey } from '../auth/api-keys.ts';
import {
  type Authenticator,
  type AuthenticatorDeps,
  createAuthenticator,
  type Principal,
} from '../auth/authenticate.ts';
import {
  type AnyGatehouseError,
  CsrfError,
  GatehouseError,
  InsufficientScopeError,
  InvalidCredentialsError,
  MfaStepUpRequiredError,
  NotAuthenticatedError,
} from '../auth/errors.ts';
import type { Actor } from '../auth/privilege-ceiling.ts';
import { assertRecentAuth } from '../auth/recent-auth.ts';
import { constantTimeEqual } from '../auth/secrets.ts';
import { parseBasicCredentials } from './basic-credentials.ts';
import { cookieOf, csrfTokenFor } from './cookies.ts';
import { logRefusal, sendRefusal } from './errors.ts';
import { maxAgeSecondsOf } from './max-age.ts';
import { acceptsFormCsrfToken } from './pages/negotiation.ts';
import { requestContext } from './request-context.ts';

export type { Principal } from '../auth/authenticate.ts';

/** How recent a sign-in `requireRecentAuth` asks for: seconds, or a duration such as `'5m'`. */
export interface RecentAuthOptions {
  readonly maxAge?: number | string;
  /**
   * Also a sign-in with two factors (the session's `amr` has `mfa`; the token's `acr` is
   * `urn:gatehouse:acr:mfa`): otherwise 401 `MFA_STEP_UP_REQUIRED` with RFC 9470 `acr_values`.
   */
  readonly mfa?: boolean;
}

/** A guard: a preHandler that also carries the OpenAPI security requirement it enforces. */
export type SecurityRequirement = Record<string, string[]>;
export const GUARD_SECURITY = Symbol('gatehouse.guardSecurity');
export type Guard = preHandlerAsyncHookHandler & { readonly [GUARD_SECURITY]: SecurityRequirement[] };

export interface Guards {
  /** Requires a valid bearer token, API key or session cookie of an existing, enabled user. */
  requireUser: Guard;
  /** Sets `request.principal` when valid credentials are sent; anonymous otherwise. Bad credentials still fail. */
  optionalUser: Guard;
  /** HTTP Basic against the user store (RFC 7617). The least recommended method. */
  requireBasicUser: Guard;
  /** Requires every one of `scopes` (FastAPI's `Security(…, scopes=[…])`). */
  requireScopes(...scopes: string[]): Guard;
  /** Requires one permission; the same check as a one-element `requireScopes`. */
  requirePermission(permission: string): Guard;
  /**
   * Requires at least one of `roles` (e.g. a `pro` role gating paid features), held through the
   * credential: the request's scopes include every permission of that role. A full-scope token
   * or a cookie session does; a token or API key narrowed below the role does not.
   */
  requireRoles(...roles: string[]): Guard;
  /**
   * Requires a user who proved their password within `maxAge` (default
   * `GATEHOUSE_REAUTH_MAX_AGE`), RFC 9470 step-up: otherwise 401 `REAUTH_REQUIRED` with
   * `WWW-Authenticate: Bearer error="insufficient_user_authentication"`. API keys never pass.
   *
   * @example
   * app.post('/payouts', { onRequest: guards.requireRecentAuth({ maxAge: '5m' }) }, handler);
   */
  requireRecentAuth(options?: RecentAuthOptions): Guard;
  /**
   * The same check inside a handler, for an action that needs it only sometimes; throws
   * ReauthRequiredError. The request must have passed a guard.
   */
  assertRecentAuth(request: FastifyRequest, options?: RecentAuthOptions): void;
  /**
   * Gatehouse's sensitive actions: a recent sign-in (`GATEHOUSE_REAUTH_MAX_AGE`), with two factors
   * when the account has a second factor.
   */
  requireStepUp(): Guard;
  /** The same check inside a handler, for an action that needs it only sometimes. */
  assertStepUp(request: FastifyRequest): Promise<void>;
}

export function securityFor(scopes: readonly string[]): SecurityRequirement[] {
  return [{ OAuth2PasswordBearer: [...scopes] }, { APIKeyHeader: [] }, { SessionCookie: [] }];
}

export const BEARER_SECURITY: SecurityRequirement[] = securityFor([]);
export const BASIC_SECURITY: SecurityRequirement[] = [{ HTTPBasic: [] }];

/**
 * Guards answer their own refusals, so they work on routes of a host app whose error handler
 * knows nothing of Gatehouse errors.
 */
function guard(handler: preHandlerAsyncHookHandler, security: SecurityRequirement[]): Guard {
  const answering = async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    try {
      await handler.call(this, request, reply);
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      logRefusal(request, error);
      return sendRefusal(error as AnyGatehouseError, request, reply);
    }
  };
  return Object.assign(answering, { [GUARD_SECURITY]: security }) as Guard;
}

/** The security requirement declared by the guards among a route's preHandlers, if any. */
export function guardSecurityOf(preHandler: unknown): SecurityRequirement[] | undefined {
  const handlers = Array.isArray(preHandler) ? preHandler : [preHandler];
  let found: SecurityRequirement[] | undefined;
  for (const handler of handlers) {
    const security = (handler as Partial<Guard> | undefined)?.[GUARD_SECURITY];
    if (security === undefined) continue;
    if (security[0]?.HTTPBasic) {
      found = security;
      continue;
    }
    // A route's scopes are the union of its guards' scopes.
    const scopes = new Set([
      ...(found?.[0]?.OAuth2PasswordBearer ?? []),
      ...(security[0]?.OAuth2PasswordBearer ?? []),
    ]);
    found = securityFor([...scopes]);
  }
  return found;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface GuardDeps extends AuthenticatorDeps {
  readonly cookieName: string;
  /** Origins besides the request's own that may send cookie-authenticated writes. */
  readonly trustedOrigins: readonly string[];
  /** The default of `requireRecentAuth` (`GATEHOUSE_REAUTH_MAX_AGE`). */
  readonly reauthMaxAgeSeconds: number;
  /** Whether the user has a confirmed second factor (their sensitive actions then need MFA step-up). */
  readonly hasSecondFactor?: (userId: string) => Promise<boolean>;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  if (!match) return undefined;
  return match[1];
}

/** Refuses cross-site requests by Fetch Metadata and Origin (OWASP CSRF cheat sheet). */
export function checkSameOrigin(request: FastifyRequest, trustedOrigins: readonly string[]): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    throw new CsrfError(`sec-fetch-site ${site}`);
  const origin = request.headers.origin;
  if (origin === undefined) return;
  const own = `${request.protocol}://${request.host}`;
  if (origin !== own && !trustedOrigins.includes(origin)) throw new CsrfError('foreign origin');
}

/**
 * A JSON body: a browser sends one cross-site only after a CORS preflight that this origin
 * answers (the Fetch standard's CORS-safelisted types are form, multipart and text/plain).
 */
export function isJsonRequest(request: FastifyRequest): boolean {
  const type = request.headers['content-type'];
  return typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type);
}

/**
 * The CSRF defence of a write made before sign-in (login, registration, the emailed links'
 * buttons): cross-site form and text posts are refused; JSON needs no check (see `isJsonRequest`).
 */
export function checkAnonymousWrite(request: FastifyRequest, trustedOrigins: readonly string[]): void {
  if (!isJsonRequest(request)) checkSameOrigin(request, trustedOrigins);
}

function checkCsrfToken(request: FastifyRequest, expected: string): void {
  const given = request.headers['x-csrf-token'];
  if (typeof given !== 'string') throw new CsrfError('missing token');
  if (!constantTimeEqual(given, expected)) throw new CsrfError('wrong token');
}

/**
 * A cookie-authenticated form post carries its CSRF token in the `csrf_token` field, which can be
 * compared only once the body is read: a guard that ran earlier (onRequest) left the expected
 * token in `request.formCsrfExpected`. Runs for every route, the host app's too.
 */
export function checkFormCsrfToken(request: FastifyRequest): void {
  const expected = request.formCsrfExpected;
  if (expected === null || expected === undefined) return;
  const body = request.body as Record<string, unknown> | null | undefined;
  const given = typeof body === 'object' && body !== null ? body.csrf_token : undefined;
  if (!constantTimeEqual(given, expected))
    throw new CsrfError(given === undefined ? 'missing form token' : 'wrong form token');
}

export function createGuards(deps: GuardDeps): Guards {
  const { roles } = deps;
  const authenticator: Authenticator = createAuthenticator(deps);

  async function authenticate(request: FastifyRequest, required: boolean): Promise<void> {
    const headerKey = request.headers['x-api-key'];
    if (typeof headerKey === 'string') {
      request.principal = await authenticator.apiKey(headerKey, requestContext(request));
      return;
    }
    const token = bearerToken(request);
    if (token !== undefined) {
      request.principal = isApiKey(token)
        ? await authenticator.apiKey(token, requestContext(request))
        : await authenticator.bearer(token);
      return;
    }
    if (request.headers.authorization !== undefined) throw new NotAuthenticatedError('Bearer');
    const cookieValue = cookieOf(request, deps.cookieName);
    if (cookieValue !== undefined && cookieValue !== '') {
      const csrfToken = csrfTokenFor(cookieValue);
      const principal = await authenticator.cookie(cookieValue, csrfToken);
      if (principal !== undefined) {
        if (!SAFE_METHODS.has(request.method)) {
          checkSameOrigin(request, deps.trustedOrigins);
          // A plain HTML form cannot set a header: it carries the token as a `csrf_token` field,
          // compared once the body is read: now when this guard runs after parsing, else by the
          // preValidation hook every route gets (`checkFormCsrfToken`).
          if (acceptsFormCsrfToken(request)) {
            request.formCsrfExpected = csrfToken;
            if (request.body !== undefined) checkFormCsrfToken(request);
          } else checkCsrfToken(request, csrfToken);
        }
        request.principal = principal;
        return;
      }
    }
    if (required) throw new NotAuthenticatedError('Bearer');
  }

  const requireScopes = (...needed: string[]): Guard =>
    guard(async (request: FastifyRequest, _reply: FastifyReply) => {
      await authenticate(request, true);
      const principal = principalOf(request);
      if (!needed.every((scope) => principal.scopes.has(scope))) throw new InsufficientScopeError(needed);
    }, securityFor(needed));

  const checkRecentAuth = (request: FastifyRequest, options?: RecentAuthOptions): void => {
    const maxAge = maxAgeSecondsOf(options, deps.reauthMaxAgeSeconds);
    const principal = principalOf(request);
    if (options?.mfa && !principal.amr?.includes('mfa')) throw new MfaStepUpRequiredError(maxAge);
    try {
      assertRecentAuth(principal.authTimeMs, maxAge, deps.clock.now());
    } catch (error) {
      // One answer tells the client all it must do: sign in again with two factors.
      if (options?.mfa) throw new MfaStepUpRequiredError(maxAge);
      throw error;
    }
  };

  const checkStepUp = async (request: FastifyRequest): Promise<void> => {
    const principal = principalOf(request);
    const mfa =
      !principal.amr?.includes('mfa') && principal.apiKeyId === undefined
        ? ((await deps.hasSecondFactor?.(principal.user.id)) ?? false)
        : false;
    checkRecentAuth(request, mfa ? { mfa } : {});
  };

  return {
    requireUser: guard(
      async (request: FastifyRequest, _reply: FastifyReply) => authenticate(request, true),
      BEARER_SECURITY,
    ),
    optionalUser: guard(
      async (request: FastifyRequest, _reply: FastifyReply) => authenticate(request, false),
      [...BEARER_SECURITY, {}],
    ),
    requireScopes,
    requirePermission: (permission) => requireScopes(permission),
    requireRoles: (...wanted) =>
      guard(async (request: FastifyRequest, _reply: FastifyReply) => {
        await authenticate(request, true);
        const { user, scopes } = principalOf(request);
        const held = (role: string) =>
          user.roles.includes(role) && [...roles.permissionsOf([role])].every((p) => scopes.has(p));
        if (!wanted.some(held)) throw new InsufficientScopeError([]);
      }, BEARER_SECURITY),
    requireRecentAuth: (options) => {
      // Checked when the route is declared: a bad maxAge is the developer's mistake, not a client's.
      const maxAge = maxAgeSecondsOf(options, deps.reauthMaxAgeSeconds);
      return guard(async (request: FastifyRequest, _reply: FastifyReply) => {
        // Another guard of the route may have authenticated the request already.
        if (request.principal === null) await authenticate(request, true);
        checkRecentAuth(request, { maxAge, ...(options?.mfa ? { mfa: true } : {}) });
      }, BEARER_SECURITY);
    },
    assertRecentAuth: checkRecentAuth,
    requireStepUp: () =>
      guard(async (request: FastifyRequest, _reply: FastifyReply) => {
        if (request.principal === null) await authenticate(request, true);
        await checkStepUp(request);
      }, BEARER_SECURITY),
    assertStepUp: checkStepUp,
    requireBasicUser: guard(async (request: FastifyRequest, _reply: FastifyReply) => {
      const header = request.headers.authorization ?? '';
      const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
      if (!match) throw new NotAuthenticatedError('Basic');
      const credentials = parseBasicCredentials(match[1] ?? '');
      if (credentials === undefined) throw new NotAuthenticatedError('Basic');
      try {
        request.principal = await authenticator.basic(
          credentials.username,
          credentials.password,
          requestContext(request),
        );
      } catch (error) {
        if (error instanceof InvalidCredentialsError) {
          throw new NotAuthenticatedError('Basic', 'Incorrect username or password');
        }
        throw error;
      }
    }, BASIC_SECURITY),
  };
}

/**
 * Who acts in a change made for this request: its user, with the request's effective scopes as
 * the ceiling on what they may grant (`userAdmin.update(actorOf(request), …)` in a host route).
 */
export function actorOf(request: FastifyRequest): Actor {
  const { user, scopes } = principalOf(request);
  return { kind: 'user', userId: user.id, permissions: scopes };
}

/** The principal a guard set; throws when the route has no guard (a wiring mistake, not a client's). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new NotAuthenticatedError('Bearer');
  return request.principal;
}
