/**
 * Gatehouse as an OpenID Provider: the service the routes `/authorize`, `/par`, `/token` (client
 * grants) and `/userinfo` call. Built once by the composition root from the clients directory,
 * the key set, the token service and the sessions.
 */

import type { Clock } from '../../clock.ts';
import type { Config } from '../../config.ts';
import type { Store } from '../../store/db.ts';
import type { UserRecord } from '../../store/users.ts';
import type { AccountService } from '../accounts.ts';
import { ID_TOKEN_ALGORITHMS, type KeySet } from '../key-set.ts';
import type { RoleService } from '../permissions.ts';
import type { RequestContext } from '../request-context.ts';
import type { RevocationState } from '../revocation.ts';
import type { SessionService } from '../sessions.ts';
import type { TokenService } from '../tokens.ts';
import { type AppAccessDeps, type AppWithAccess, listApps, removeApp } from './app-access.ts';
import {
  type AuthorizeDeps,
  type AuthorizeOutcome,
  authorize,
  type BrowserSession,
  decideConsent,
} from './authorize.ts';
import { type BackchannelLogout, createBackchannelLogout } from './backchannel-logout.ts';
import type { PresentedClientCredentials } from './client-types.ts';
import type { ClientService } from './clients.ts';
import { confirmEndSession, type EndSessionDeps, type EndSessionOutcome, endSession } from './end-session.ts';
import { pushAuthorizationRequest } from './pushed-requests.ts';
import { isRegisteredRedirectUri } from './redirect-uri.ts';
import type { UserClaims } from './scopes.ts';
import {
  type ClientTokenResponse,
  exchangeAuthorizationCode,
  issueClientCredentials,
  refreshClientToken,
  type TokenGrantDeps,
} from './token-grants.ts';
import { userInfo } from './userinfo.ts';

export type { AppWithAccess } from './app-access.ts';
export type { AuthorizeOutcome, BrowserSession } from './authorize.ts';
export type { EndSessionOutcome } from './end-session.ts';
export type { ClientTokenResponse } from './token-grants.ts';

export interface OpenIdProvider {
  readonly issuer: string;
  /** Delivers back-channel logout tokens: kicked after each revocation, retried by upkeep. */
  readonly logouts: BackchannelLogout;
  /** `GET /authorize`: sign in first, ask for consent, or the redirect with a code or an error. */
  authorize(
    params: Readonly<Record<string, string>>,
    browser: BrowserSession | undefined,
    ctx: RequestContext,
  ): Promise<AuthorizeOutcome>;
  /** The consent form's Allow or Deny. */
  decideConsent(
    params: Readonly<Record<string, string>>,
    browser: BrowserSession,
    allow: boolean,
    ctx: RequestContext,
  ): Promise<AuthorizeOutcome>;
  pushAuthorizationRequest(
    presented: PresentedClientCredentials,
    form: Readonly<Record<string, string>>,
    ctx: RequestContext,
  ): Promise<{ requestUri: string; expiresInSeconds: number }>;
  exchangeAuthorizationCode(
    presented: PresentedClientCredentials,
    form: { code: string | undefined; redirectUri: string | undefined; codeVerifier: string | undefined },
    ctx: RequestContext,
  ): Promise<ClientTokenResponse>;
  /** Undefined when the refresh token is not a client's (Gatehouse's own refresh grant takes it). */
  refreshClientToken(
    presented: PresentedClientCredentials,
    refreshToken: string,
    scope: string | undefined,
    ctx: RequestContext,
  ): Promise<ClientTokenResponse | undefined>;
  issueClientCredentials(
    presented: PresentedClientCredentials,
    form: { scope: string | undefined; resource: string | undefined },
    ctx: RequestContext,
  ): Promise<ClientTokenResponse>;
  userInfo(accessToken: string): Promise<UserClaims & { sub: string }>;
  /** The client's display name, for "Sign in to continue to …"; undefined when unknown. */
  clientName(clientId: string): Promise<string | undefined>;
  /** Whether `redirectUri` is one of the client's registered redirect URIs (pages allow it in CSP). */
  isClientRedirectUri(clientId: string, redirectUri: string): Promise<boolean>;
  /** `GET /logout` (RP-Initiated Logout 1.0): end the browser's session now, ask first, or redirect. */
  endSession(
    params: Readonly<Record<string, string>>,
    browser: BrowserSession | undefined,
    ctx: RequestContext,
  ): Promise<EndSessionOutcome>;
  /** The logout confirmation page's post. */
  confirmEndSession(
    params: Readonly<Record<string, string>>,
    browser: BrowserSession,
    ctx: RequestContext,
  ): Promise<EndSessionOutcome>;
  /** The clients the user has consented to ("Apps with access"). */
  listApps(userId: string): Promise<AppWithAccess[]>;
  /** Forgets the user's consents to the client and revokes its sessions; ClientNotFoundError when none. */
  removeApp(userId: string, clientId: string, ctx: RequestContext): Promise<void>;
}

/** What the provider asks of the clients registry. */
export type OidcClients = Pick<ClientService, 'find' | 'authenticate'>;

export interface OpenIdProviderDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly clients: OidcClients;
  readonly keys: KeySet;
  readonly tokens: TokenService;
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly roles: RoleService;
  readonly revocation: RevocationState;
  /** Errors of background work (the logout outbox's database), never a client's. */
  readonly onBackgroundError: (error: unknown) => void;
  readonly options: {
    readonly issuer: string;
    readonly audience: string;
    /** Where the endpoints are: the issuer's origin plus the mount path. */
    readonly endpointBase: string;
    readonly sessionTtlSeconds: number;
    readonly idTokenTtlSeconds: number;
    /** How long one back-channel logout POST may take. */
    readonly logoutTimeoutMs: number;
  };
}

export function createOpenIdProvider(deps: OpenIdProviderDeps): OpenIdProvider {
  const { store, clock, clients, keys, tokens, accounts, sessions, roles, revocation, options } = deps;
  const now = () => clock.now();
  const authorizeDeps: AuthorizeDeps = {
    db: store.db,
    clients,
    audience: options.audience,
    issuer: options.issuer,
    now,
    permissionsOfUser: async (userId) => {
      const user = await accounts.findUser(userId);
      return user === undefined ? undefined : roles.permissionsOf(user.roles);
    },
  };
  const grantDeps: TokenGrantDeps = {
    db: store.db,
    clients,
    tokens,
    keys,
    accounts,
    sessions,
    revocation,
    issuer: options.issuer,
    audience: options.audience,
    tokenEndpoint: `${options.endpointBase}/token`,
    sessionTtlSeconds: options.sessionTtlSeconds,
    idTokenTtlSeconds: options.idTokenTtlSeconds,
    rolesCarried: (user: UserRecord, scope) =>
      user.roles.filter((role) =>
        [...roles.permissionsOf([role])].every((permission) => scope.includes(permission)),
      ),
    now,
  };
  const endSessionDeps: EndSessionDeps = {
    issuer: options.issuer,
    keys,
    algorithms: ID_TOKEN_ALGORITHMS,
    clients,
    logout: (sessionId, userId, ctx) => sessions.logout(sessionId, userId, ctx),
  };
  const appDeps: AppAccessDeps = { db: store.db, clients, revocation, now };
  return {
    issuer: options.issuer,
    logouts: createBackchannelLogout({
      store,
      clock,
      clients,
      keys,
      options: { issuer: options.issuer, timeoutMs: options.logoutTimeoutMs },
      onBackgroundError: deps.onBackgroundError,
    }),
    authorize: (params, browser, ctx) => authorize(authorizeDeps, params, browser, ctx),
    decideConsent: (params, browser, allow, ctx) => decideConsent(authorizeDeps, params, browser, allow, ctx),
    pushAuthorizationRequest: (presented, form, ctx) =>
      pushAuthorizationRequest(
        { ...authorizeDeps, parEndpoint: `${options.endpointBase}/par` },
        presented,
        form,
        ctx,
      ),
    exchangeAuthorizationCode: (presented, form, ctx) =>
      exchangeAuthorizationCode(grantDeps, presented, form, ctx),
    refreshClientToken: (presented, token, scope, ctx) =>
      refreshClientToken(grantDeps, presented, token, scope, ctx),
    issueClientCredentials: (presented, form, ctx) => issueClientCredentials(grantDeps, presented, form, ctx),
    userInfo: (accessToken) => userInfo({ tokens, accounts, revocation, sessions }, accessToken),
    clientName: async (clientId) => (await clients.find(clientId))?.clientName,
    isClientRedirectUri: async (clientId, redirectUri) => {
      const client = await clients.find(clientId);
      return client !== undefined && isRegisteredRedirectUri(client.redirectUris, redirectUri);
    },
    endSession: (params, browser, ctx) => endSession(endSessionDeps, params, browser, ctx),
    confirmEndSession: (params, browser, ctx) => confirmEndSession(endSessionDeps, params, browser, ctx),
    listApps: (userId) => listApps(appDeps, userId),
    removeApp: (userId, clientId, ctx) => removeApp(appDeps, userId, clientId, ctx),
  };
}

/** The provider as the composition root builds it: endpoints under the issuer and the mount path. */
export function createOpenIdProviderFromConfig(
  config: Pick<Config, 'issuer' | 'audience' | 'sessionTtlSeconds' | 'accessTokenTtlSeconds'>,
  basePath: string,
  clients: OidcClients,
  deps: Omit<OpenIdProviderDeps, 'options' | 'clients'>,
): OpenIdProvider {
  return createOpenIdProvider({
    ...deps,
    clients,
    options: {
      issuer: config.issuer,
      audience: config.audience,
      endpointBase: `${config.issuer.replace(/\/+$/, '')}${basePath}`,
      sessionTtlSeconds: config.sessionTtlSeconds,
      idTokenTtlSeconds: config.accessTokenTtlSeconds,
      logoutTimeoutMs: 5000,
    },
  });
}
