/**
 * Sessions and the token lifecycle (RFC 6749 §6, RFC 9700 §4.14): a session per login (here),
 * refresh rotation (`refresh-rotation.ts`), listing and revocation (`session-revocation.ts`),
 * password change (`password-change.ts`). Every change writes its audit event in the same
 * transaction.
 */
import type { Clock } from '../clock.ts';
import type { Store } from '../store/db.ts';
import { findSession, revokeSessions, type SessionRecord, touchSession } from '../store/sessions.ts';
import type { UserRecord } from '../store/users.ts';
import type { AccountService } from './accounts.ts';
import { InvalidCredentialsError } from './errors.ts';
import type { FirstStep } from './factors/mfa-tokens.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { changePassword } from './password-change.ts';
import { createPasswordCheck } from './password-check.ts';
import type { PasswordHasher } from './passwords.ts';
import { reauthenticate } from './reauthentication.ts';
import { rotateRefreshToken } from './refresh-rotation.ts';
import type { RequestContext } from './request-context.ts';
import type { RevocationState } from './revocation.ts';
import { effectiveScope, parseScope } from './scopes.ts';
import { secretMatches, splitOpaqueToken } from './secrets.ts';
import type { SessionKit } from './session-kit.ts';
import { createSessionRevocation } from './session-revocation.ts';
import {
  provenMethods,
  startCookieSession as startCookie,
  startTokenSession as startToken,
} from './session-start.ts';
import type { TokenService } from './tokens.ts';

export type { RequestContext } from './request-context.ts';

export type { ExternalSignInProof, Reauthenticated, TokenGrant, TokenPair } from './session-types.ts';

import type { ExternalSignInProof, Reauthenticated, TokenGrant, TokenPair } from './session-types.ts';

export interface SessionServiceOptions {
  readonly sessionTtlSeconds: number;
  readonly idleTtlSeconds: number;
  readonly reuseGraceSeconds: number;
  readonly passwordMinLength: number;
  /** The user's current permissions: a refreshed token never carries a scope the user lost. */
  readonly permissionsOf: (user: UserRecord) => ReadonlySet<string>;
  /** The permissions one role grants, to tell which roles a token's scope carries whole. */
  readonly permissionsOfRole: (role: string) => ReadonlySet<string>;
}

export interface SessionView {
  readonly id: string;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly current: boolean;
}

export interface CookieLogin {
  readonly user: UserRecord;
  readonly session: SessionRecord;
  /** The cookie's value: `<session id>.<secret>`. Only its hash is stored. */
  readonly cookieValue: string;
}

export interface SessionService {
  /**
   * Password login (`POST /token`, RFC 6749 §4.3): a new session with an access and a refresh
   * token. `grant.scope` is the request's space-separated `scope`: the token gets what of it the
   * user holds (all their permissions when absent; see `grantScope`).
   */
  loginWithPassword(
    login: string,
    password: string,
    grant: TokenGrant,
    ctx: RequestContext,
  ): Promise<{ user: UserRecord; tokens: TokenPair }>;
  /**
   * The scope a new grant of `user` gets for a requested space-separated `scope` (RFC 6749 §3.3):
   * the well-formed scopes asked for that the user's roles hold now, or every one of them when
   * none is asked for. Scopes the user lacks are left out, not refused.
   */
  grantScope(user: UserRecord, requestedScope: string | undefined): string;
  /** Password login for browsers: a new cookie session. */
  loginWithCookie(login: string, password: string, ctx: RequestContext): Promise<CookieLogin>;
  /** A password check without a session (HTTP Basic), throttled and audited like a login. */
  verifyPassword(login: string, password: string, ctx: RequestContext): Promise<UserRecord>;
  /**
   * Proves the password again in a live session (RFC 9470 step-up): renews the session's
   * `auth_time`, audits `user.reauthenticated` and issues a fresh access token; a token session
   * also gets a new refresh token. A wrong password is IncorrectPasswordError, throttled and
   * audited like a failed login.
   */
  reauthenticate(
    user: UserRecord,
    sessionId: string,
    /** Undefined: `secondFactor` alone proves the user (a passkey with user verification). */
    password: string | undefined,
    grant: { readonly scope: string; readonly clientId: string | undefined },
    ctx: RequestContext,
    /** Proves a second factor once the password is right; returns the methods it adds. */
    secondFactor?: (user: UserRecord) => Promise<readonly string[]>,
  ): Promise<Reauthenticated>;
  /**
   * A token session for a user already proven by other means (`method` names them in audit).
   * Without `amr` this is a first step: an account with a second factor gets MfaRequiredError.
   * With `amr` (RFC 8176) the sign-in is complete (the second step, a passkey). `external` names
   * the provider of an external sign-in, audited and claimed in the token.
   */
  startTokenSession(
    user: UserRecord,
    scope: string,
    clientId: string | undefined,
    ctx: RequestContext,
    method: string,
    amr?: readonly string[],
    external?: ExternalSignInProof,
  ): Promise<TokenPair>;
  /** A cookie session for a user already proven by other means; `amr` and `external` as for tokens. */
  startCookieSession(
    user: UserRecord,
    ctx: RequestContext,
    method: string,
    amr?: readonly string[],
    external?: ExternalSignInProof,
  ): Promise<CookieLogin>;
  /**
   * Rotates a refresh token (RFC 6749 §6). `requestedScope`, the request's space-separated
   * `scope`, may only narrow the grant: a scope beyond it is InvalidScopeError (`invalid_scope`).
   * `clientId`: the OpenID Provider client that authenticated for its token (none: Gatehouse's own).
   */
  refresh(
    refreshToken: string,
    requestedScope: string | undefined,
    ctx: RequestContext,
    clientId?: string,
  ): Promise<TokenPair>;
  /** The live cookie session and its user for a cookie value, or undefined. */
  authenticateCookie(cookieValue: string): Promise<{ user: UserRecord; session: SessionRecord } | undefined>;
  /** Whether the session is live now (not revoked, not past absolute or idle expiry). */
  isSessionLive(session: SessionRecord): boolean;
  /** Asks the database (used while the in-memory revocation state may be incomplete). */
  isRevokedInStore(sessionId: string): Promise<boolean>;
  logout(sessionId: string, userId: string, ctx: RequestContext): Promise<void>;
  listSessions(userId: string, currentSessionId: string | undefined): Promise<SessionView[]>;
  revokeSession(userId: string, sessionId: string, ctx: RequestContext): Promise<void>;
  /** Log out everywhere: ends every session and spends every outstanding emailed link of the user. */
  revokeAllSessions(userId: string, ctx: RequestContext): Promise<void>;
  changePassword(
    userId: string,
    currentPassword: string,
    newPassword: string,
    currentSessionId: string | undefined,
    ctx: RequestContext,
  ): Promise<void>;
}

export function createSessionService(deps: {
  store: Store;
  accounts: AccountService;
  hasher: PasswordHasher;
  tokens: TokenService;
  revocation: RevocationState;
  throttle: LoginThrottle;
  clock: Clock;
  options: SessionServiceOptions;
  /** Told of outcomes worth counting; optional. */
  metrics?: { refreshReuseDetected(): void };
  /** Asked before a first step's session: throws when a second factor must follow (factors/). */
  secondStep?: {
    requireSecondStep(user: UserRecord, step: FirstStep): Promise<void>;
    hasFactor(userId: string): Promise<boolean>;
  };
}): SessionService {
  const { store, accounts, hasher, tokens, revocation, throttle, clock, options } = deps;
  const db = store.db;

  function isSessionLive(session: SessionRecord): boolean {
    const now = clock.now();
    return (
      session.revokedAt === null &&
      session.expiresAt > now &&
      session.lastUsedAt + options.idleTtlSeconds * 1000 > now &&
      !revocation.isSessionRevoked(session.id)
    );
  }

  const grantScope = (user: UserRecord, requestedScope: string | undefined) =>
    effectiveScope(options.permissionsOf(user), parseScope(requestedScope));

  const passwords = createPasswordCheck({ accounts, throttle, store, clock });
  const authenticateOrAudit = async (login: string, password: string, ctx: RequestContext) =>
    passwords.check(await accounts.findByLogin(login), login, password, ctx, 'login');
  const checkCurrentPassword = passwords.checkCurrent;

  function issueAccess(
    user: UserRecord,
    sessionId: string,
    scope: string,
    clientId: string | undefined,
    authTimeMs: number,
    amr?: readonly string[],
    externalProvider?: string,
    audience?: string,
  ) {
    // The `roles` claim names only the roles whose every permission the scope carries: a token
    // narrowed below a role must not pass a resource server's role check (`requireRoles`).
    const granted = new Set(scope.split(' ').filter(Boolean));
    const roles = user.roles.filter((role) =>
      [...options.permissionsOfRole(role)].every((permission) => granted.has(permission)),
    );
    return tokens.issueAccessToken({
      userId: user.id,
      username: user.username,
      roles,
      scope,
      sessionId,
      authTimeMs,
      ...(amr ? { amr } : {}),
      ...(clientId ? { clientId } : {}),
      ...(externalProvider ? { externalProvider } : {}),
      ...(audience ? { audience } : {}),
    });
  }

  async function revokeAndRemember(
    executor: typeof db,
    where: Parameters<typeof revokeSessions>[1],
    reason: string,
  ): Promise<string[]> {
    return revokeSessions(executor, where, clock.now(), reason);
  }

  const kit: SessionKit = {
    db,
    clock,
    options,
    accounts,
    hasher,
    revocation,
    isSessionLive,
    issueAccess,
    revokeAndRemember,
    checkCurrentPassword,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  };
  const startTokenSession: SessionService['startTokenSession'] = async (
    user,
    scope,
    clientId,
    ctx,
    method,
    completeAmr,
    external,
  ) => {
    const step = { kind: 'token', method, scope, clientId, provider: external?.provider } as const;
    const amr = await provenMethods(deps.secondStep, user, completeAmr, step);
    return startToken(kit, user, scope, clientId, ctx, method, amr, external);
  };
  const startCookieSession: SessionService['startCookieSession'] = async (
    user,
    ctx,
    method,
    completeAmr,
    external,
  ) => {
    const step = {
      kind: 'cookie',
      method,
      scope: '',
      clientId: undefined,
      provider: external?.provider,
    } as const;
    const amr = await provenMethods(deps.secondStep, user, completeAmr, step);
    return startCookie(kit, user, ctx, method, amr, external);
  };

  return {
    isSessionLive,
    async verifyPassword(login, password, ctx) {
      const user = await authenticateOrAudit(login, password, ctx);
      // HTTP Basic has no second step: a password alone must not open an account with a factor.
      if (await deps.secondStep?.hasFactor(user.id)) throw new InvalidCredentialsError();
      return user;
    },

    async loginWithPassword(login, password, grant, ctx) {
      const user = await authenticateOrAudit(login, password, ctx);
      const scope = grantScope(user, grant.scope);
      return { user, tokens: await startTokenSession(user, scope, grant.clientId, ctx, 'password') };
    },

    grantScope,

    async loginWithCookie(login, password, ctx) {
      const user = await authenticateOrAudit(login, password, ctx);
      return startCookieSession(user, ctx, 'cookie');
    },

    startTokenSession,
    startCookieSession,

    reauthenticate: (user, sessionId, password, grant, ctx, secondFactor) =>
      reauthenticate(kit, user, sessionId, password, grant, ctx, secondFactor),

    refresh: (refreshToken, requestedScope, ctx, clientId) =>
      rotateRefreshToken(kit, refreshToken, parseScope(requestedScope), ctx, clientId),

    async authenticateCookie(cookieValue) {
      const parts = splitOpaqueToken(cookieValue);
      if (parts === undefined) return undefined;
      const session = await findSession(db, parts.id);
      if (session === undefined || session.kind !== 'cookie' || session.secretHash === null) return undefined;
      if (!secretMatches(parts.secret, session.secretHash) || !isSessionLive(session)) return undefined;
      const user = await accounts.findUserForRequest(session.userId);
      if (user === undefined) return undefined;
      const now = clock.now();
      // Idle expiry needs last use; a write per minute per session is enough for that.
      if (now - session.lastUsedAt > 60_000) await touchSession(db, session.id, now);
      return { user, session };
    },

    async isRevokedInStore(sessionId) {
      const session = await findSession(db, sessionId);
      return session === undefined || session.revokedAt !== null;
    },

    ...createSessionRevocation(kit),
    changePassword: (userId, currentPassword, newPassword, currentSessionId, ctx) =>
      changePassword(kit, userId, currentPassword, newPassword, currentSessionId, ctx),
  };
}
