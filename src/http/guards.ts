/**
 * Who is calling. Guards are preHandlers that set `request.principal`; routes declare the same
 * guard in their OpenAPI security so /docs shows it. Every guard that accepts a bearer token
 * also accepts the session cookie, with CSRF defence for state-changing requests.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AccountService } from '../auth/accounts.ts';
import {
  CsrfError,
  InactiveUserError,
  InvalidCredentialsError,
  InvalidTokenError,
  NotAuthenticatedError,
} from '../auth/errors.ts';
import type { RevocationState } from '../auth/revocation.ts';
import type { SessionService } from '../auth/sessions.ts';
import type { AccessTokenClaims, TokenService } from '../auth/tokens.ts';
import type { UserRecord } from '../store/users.ts';
import { csrfTokenFor } from './cookies.ts';

export interface Principal {
  readonly user: UserRecord;
  readonly method: 'bearer' | 'cookie' | 'basic';
  /** Present when authenticated by a bearer token. */
  readonly claims: AccessTokenClaims | undefined;
  /** The session the request belongs to (bearer `sid` claim or the cookie's session). */
  readonly sessionId: string | undefined;
  /** Cookie sessions only: the value `X-CSRF-Token` must carry. */
  readonly csrfToken: string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface Guards {
  /** Requires a valid bearer token or session cookie of an existing, enabled user. */
  requireUser: preHandlerAsyncHookHandler;
  /** Sets `request.principal` when valid credentials are sent; anonymous otherwise. Bad credentials still fail. */
  optionalUser: preHandlerAsyncHookHandler;
  /** HTTP Basic against the user store (RFC 7617). The least recommended method. */
  requireBasicUser: preHandlerAsyncHookHandler;
}

export const BEARER_SECURITY: Record<string, string[]>[] = [
  { OAuth2PasswordBearer: [] },
  { SessionCookie: [] },
];
export const BASIC_SECURITY: Record<string, string[]>[] = [{ HTTPBasic: [] }];

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface GuardDeps {
  readonly accounts: AccountService;
  readonly tokens: TokenService;
  readonly sessions: SessionService;
  readonly revocation: RevocationState;
  readonly cookieName: string;
  /** Origins besides the request's own that may send cookie-authenticated writes. */
  readonly trustedOrigins: readonly string[];
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

function checkCsrfToken(request: FastifyRequest, expected: string): void {
  const given = request.headers['x-csrf-token'];
  if (typeof given !== 'string') throw new CsrfError('missing token');
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new CsrfError('wrong token');
}

export function createGuards(deps: GuardDeps): Guards {
  const { accounts, tokens, sessions, revocation } = deps;

  async function authenticate(request: FastifyRequest, required: boolean): Promise<void> {
    const token = bearerToken(request);
    if (token !== undefined) {
      const claims = tokens.verifyAccessToken(token);
      if (claims.sid !== undefined && revocation.isSessionRevoked(claims.sid)) {
        throw new InvalidTokenError('session revoked');
      }
      const user = await accounts.findUser(claims.sub);
      if (user === undefined) throw new InvalidTokenError('user no longer exists');
      if (user.disabled) throw new InactiveUserError();
      request.principal = { user, method: 'bearer', claims, sessionId: claims.sid, csrfToken: undefined };
      return;
    }
    if (request.headers.authorization !== undefined) throw new NotAuthenticatedError('Bearer');
    const cookieValue = request.cookies?.[deps.cookieName];
    if (cookieValue !== undefined && cookieValue !== '') {
      const found = await sessions.authenticateCookie(cookieValue);
      if (found !== undefined) {
        if (found.user.disabled) throw new InactiveUserError();
        const csrfToken = csrfTokenFor(cookieValue);
        if (!SAFE_METHODS.has(request.method)) {
          checkSameOrigin(request, deps.trustedOrigins);
          checkCsrfToken(request, csrfToken);
        }
        request.principal = {
          user: found.user,
          method: 'cookie',
          claims: undefined,
          sessionId: found.session.id,
          csrfToken,
        };
        return;
      }
    }
    if (required) throw new NotAuthenticatedError('Bearer');
  }

  return {
    requireUser: async (request: FastifyRequest, _reply: FastifyReply) => authenticate(request, true),
    optionalUser: async (request: FastifyRequest, _reply: FastifyReply) => authenticate(request, false),
    requireBasicUser: async (request: FastifyRequest, _reply: FastifyReply) => {
      const header = request.headers.authorization ?? '';
      const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
      if (!match) throw new NotAuthenticatedError('Basic');
      const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new NotAuthenticatedError('Basic');
      try {
        // authenticate compares through the password hash (constant time) and burns a dummy
        // verify for unknown users, so timing tells nothing about which part was wrong.
        const user = await accounts.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1));
        request.principal = {
          user,
          method: 'basic',
          claims: undefined,
          sessionId: undefined,
          csrfToken: undefined,
        };
      } catch (error) {
        if (error instanceof InvalidCredentialsError) {
          throw new NotAuthenticatedError('Basic', 'Incorrect username or password');
        }
        throw error;
      }
    },
  };
}

/** The principal a guard set; throws when the route has no guard (a wiring mistake, not a client's). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new NotAuthenticatedError('Bearer');
  return request.principal;
}
