/**
 * The OpenID Provider's services, as `createGatehouse` builds them from the settings: the clients
 * registry, the introspection and revocation of tokens for clients, and the provider itself
 * (`/authorize`, `/par`, the client grants, `/userinfo`).
 */
import type { Clock } from '../../clock.ts';
import type { Config } from '../../config.ts';
import type { Store } from '../../store/db.ts';
import type { AccountService } from '../accounts.ts';
import type { KeySet } from '../key-set.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import type { RoleService } from '../permissions.ts';
import type { RevocationState } from '../revocation.ts';
import type { SessionService } from '../sessions.ts';
import type { TokenService } from '../tokens.ts';
import { type ClientService, createClientService } from './clients.ts';
import { createOpenIdProviderFromConfig, type OpenIdProvider } from './provider.ts';
import { createTokenIntrospection, type TokenIntrospectionService } from './token-introspection.ts';

export interface OidcServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly roles: RoleService;
  readonly revocation: RevocationState;
  readonly throttle: LoginThrottle;
  readonly tokens: TokenService;
  readonly sessions: SessionService;
  readonly accounts: AccountService;
  /** Every signing key ring (ID tokens are signed with the client's algorithm). */
  readonly keys: KeySet;
}

export interface OidcServices {
  readonly clients: ClientService;
  readonly tokenIntrospection: TokenIntrospectionService;
  readonly oidc: OpenIdProvider;
}

export function createOidcServices(
  config: Pick<
    Config,
    | 'issuer'
    | 'audience'
    | 'clientSecretOverlapSeconds'
    | 'sessionIdleTtlSeconds'
    | 'sessionTtlSeconds'
    | 'accessTokenTtlSeconds'
  >,
  basePath: string,
  deps: OidcServiceDeps,
): OidcServices {
  const { store, clock, roles, revocation, throttle } = deps;
  const clients = createClientService({
    store,
    clock,
    roles,
    revocation,
    throttle,
    options: { issuer: config.issuer, secretOverlapSeconds: config.clientSecretOverlapSeconds },
  });
  const tokenIntrospection = createTokenIntrospection({
    ...deps,
    clients,
    issuer: config.issuer,
    sessionIdleTtlSeconds: config.sessionIdleTtlSeconds,
  });
  const oidc = createOpenIdProviderFromConfig(config, basePath, clients, deps);
  return { clients, tokenIntrospection, oidc };
}
