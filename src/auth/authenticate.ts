/**
 * Who is calling: turns a credential (bearer JWT, session cookie, API key, Basic) into a
 * `Principal`. Revocation, user lookup, the disabled check and scope narrowing live here; the
 * HTTP guards only read headers, check CSRF and declare OpenAPI security.
 */
import type { Clock } from '../clock.ts';
import type { UserRecord } from '../store/users.ts';
import { type AccountService, type PublicUser, toPublicUser } from './accounts.ts';
import type { ApiKeyService } from './api-keys.ts';
import { InactiveUserError, InvalidTokenError } from './errors.ts';
import type { RoleService } from './permissions.ts';
import { authTimeOfClaims } from './recent-auth.ts';
import type { RequestContext } from './request-context.ts';
import type { RevocationState } from './revocation.ts';
import { effectiveScopes } from './scopes.ts';
import type { SessionService } from './sessions.ts';
import type { AccessTokenClaims, TokenService } from './tokens.ts';

export { effectiveScope, effectiveScopes } from './scopes.ts';

export interface Principal {
  /** The user as the API shows it (`GET /users/me`): never the password hash. */
  readonly user: PublicUser;
  readonly method: 'bearer' | 'cookie' | 'basic' | 'api_key';
  /**
   * What this request may do: the user's current permissions, narrowed by the token's `scope`
   * (bearer) or the key's scopes (API key). Roles changed since the token was issued count at once.
   */
  readonly scopes: ReadonlySet<string>;
  /** Present when authenticated by an API key. */
  readonly apiKeyId: string | undefined;
  /** Present when authenticated by a bearer token. */
  readonly claims: AccessTokenClaims | undefined;
  /** The session the request belongs to (bearer `sid` claim or the cookie's session). */
  readonly sessionId: string | undefined;
  /** Cookie sessions only: the value `X-CSRF-Token` must carry. */
  readonly csrfToken: string | undefined;
  /**
   * When the user last proved a credential (ms; RFC 9470 `auth_time`): the session's for a bearer
   * token or cookie, this request's for Basic, undefined for an API key, which proves no sign-in.
   */
  readonly authTimeMs: number | undefined;
}

export interface AuthenticatorDeps {
  readonly accounts: AccountService;
  readonly roles: RoleService;
  readonly apiKeys: ApiKeyService;
  readonly tokens: TokenService;
  readonly sessions: SessionService;
  readonly revocation: RevocationState;
  readonly clock: Clock;
}

export interface Authenticator {
  /** A bearer access token; throws InvalidTokenError or InactiveUserError. */
  bearer(token: string): Promise<Principal>;
  /** An API key (header or bearer); throws InvalidTokenError or InactiveUserError. */
  apiKey(presented: string, ctx: RequestContext): Promise<Principal>;
  /**
   * A session cookie's value, or undefined when it names no live session (the request is then
   * anonymous); throws InactiveUserError. `csrfToken` is the caller's to fill in.
   */
  cookie(cookieValue: string, csrfToken: string | undefined): Promise<Principal | undefined>;
  /** Username (or email) and password (HTTP Basic), throttled like a login; throws InvalidCredentialsError. */
  basic(login: string, password: string, ctx: RequestContext): Promise<Principal>;
}

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const { accounts, roles, apiKeys, tokens, sessions, revocation, clock } = deps;

  const permissionsOf = (user: PublicUser): ReadonlySet<string> => roles.permissionsOf(user.roles);

  // The user cache hands out the same record while it is fresh (and a token's claims stay the
  // same object in the token cache): what is derived from them is built once, not per request.
  const publicUsers = new WeakMap<UserRecord, PublicUser>();
  const tokenScopes = new WeakMap<
    AccessTokenClaims,
    { held: ReadonlySet<string>; scopes: ReadonlySet<string> }
  >();

  async function enabledUser(id: string, gone: string): Promise<PublicUser> {
    const user = await accounts.findUserForRequest(id);
    if (user === undefined) throw new InvalidTokenError(gone);
    if (user.disabled) throw new InactiveUserError();
    let shown = publicUsers.get(user);
    if (shown === undefined) {
      shown = toPublicUser(user);
      publicUsers.set(user, shown);
    }
    return shown;
  }

  /** The token's scopes narrowed to what the user holds now (the role catalogue's set, when one role). */
  function scopesOfToken(held: ReadonlySet<string>, claims: AccessTokenClaims): ReadonlySet<string> {
    const known = tokenScopes.get(claims);
    if (known !== undefined && known.held === held) return known.scopes;
    const scopes = effectiveScopes(held, claims.scope ?? '');
    tokenScopes.set(claims, { held, scopes });
    return scopes;
  }

  /** Synchronous while the in-memory revocation state is complete (always, but right after start). */
  function isRevoked(sessionId: string | undefined): boolean | Promise<boolean> {
    if (sessionId === undefined) return false;
    if (revocation.isSessionRevoked(sessionId)) return true;
    return !revocation.isComplete() && sessions.isRevokedInStore(sessionId);
  }

  return {
    async bearer(token) {
      const claims = tokens.verifyAccessToken(token);
      const revoked = isRevoked(claims.sid);
      if (revoked === true || (revoked !== false && (await revoked))) {
        throw new InvalidTokenError('session revoked');
      }
      const user = await enabledUser(claims.sub, 'user no longer exists');
      return {
        user,
        method: 'bearer',
        scopes: scopesOfToken(permissionsOf(user), claims),
        apiKeyId: undefined,
        claims,
        sessionId: claims.sid,
        csrfToken: undefined,
        authTimeMs: authTimeOfClaims(claims),
      };
    },

    async apiKey(presented, ctx) {
      const key = await apiKeys.authenticate(presented, ctx);
      if (key === undefined) throw new InvalidTokenError('unknown, expired or revoked API key');
      const user = await enabledUser(key.userId, 'API key owner no longer exists');
      return {
        user,
        method: 'api_key',
        scopes: effectiveScopes(permissionsOf(user), key.scopes),
        apiKeyId: key.id,
        claims: undefined,
        sessionId: undefined,
        csrfToken: undefined,
        authTimeMs: undefined,
      };
    },

    async cookie(cookieValue, csrfToken) {
      const found = await sessions.authenticateCookie(cookieValue);
      if (found === undefined) return undefined;
      if (found.user.disabled) throw new InactiveUserError();
      const user = toPublicUser(found.user);
      return {
        user,
        method: 'cookie',
        scopes: permissionsOf(user),
        apiKeyId: undefined,
        claims: undefined,
        sessionId: found.session.id,
        csrfToken,
        authTimeMs: found.session.authTime,
      };
    },

    async basic(login, password, ctx) {
      // The check compares through the password hash (constant time) and burns a dummy verify
      // for unknown users, so timing tells nothing about which part was wrong; it goes through
      // the failed-login throttle like /token and /login.
      const user = toPublicUser(await sessions.verifyPassword(login, password, ctx));
      return {
        user,
        method: 'basic',
        scopes: permissionsOf(user),
        apiKeyId: undefined,
        claims: undefined,
        sessionId: undefined,
        csrfToken: undefined,
        // Basic proves the password with every request.
        authTimeMs: clock.now(),
      };
    },
  };
}
