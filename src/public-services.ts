import type { AccountService } from './auth/accounts.ts';
import type { ApiKeyService } from './auth/api-keys.ts';
import type { AuditLog } from './auth/audit-log.ts';
import type { EmailFlowService } from './auth/email-flows.ts';
import type { ExternalSignInService } from './auth/external/sign-in.ts';
import type { FactorService } from './auth/factors/factors.ts';
import type { ClientService } from './auth/oidc/clients.ts';
import type { TokenIntrospectionService } from './auth/oidc/token-introspection.ts';
import type { RoleService } from './auth/permissions.ts';
import type { SessionService } from './auth/sessions.ts';
import type { UserAdminService } from './auth/user-admin.ts';
import type { Gatehouse } from './gatehouse.ts';
import type { GatehouseMetrics } from './observability/metrics.ts';

/**
 * The services an embedding app calls in-process, as `app.gatehouse.services`: each applies the
 * same rules, audit and mail as its HTTP route. The store, key ring and password hasher stay
 * inside (`createGatehouse()` returns them to the plugin, the server and the CLI).
 */
export interface GatehouseServices {
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly roles: RoleService;
  readonly apiKeys: ApiKeyService;
  readonly userAdmin: UserAdminService;
  /** The audit log, to read (`GET /audit`). */
  readonly audit: AuditLog;
  /** Verification, password reset, magic links and email change. */
  readonly emailFlows: EmailFlowService;
  /** Second factors, recovery codes, the second sign-in step and passkeys. */
  readonly factors: FactorService;
  /** Sign-in with Google, GitHub and OpenID Connect providers; connected accounts and their tokens. */
  readonly externalSignIn: ExternalSignInService;
  /** Prometheus metrics of this Gatehouse, served at `GET /metrics`. */
  readonly metrics: GatehouseMetrics;
  /** The OpenID Provider's clients: the registry (`/clients`) and their authentication. */
  readonly clients: ClientService;
  /** Token introspection (RFC 7662) and revocation (RFC 7009) for clients. */
  readonly tokenIntrospection: TokenIntrospectionService;
}

/** The public services of a Gatehouse, and nothing else. */
export function publicServices(gatehouse: Gatehouse): GatehouseServices {
  const g = gatehouse;
  return Object.freeze({
    accounts: g.accounts,
    sessions: g.sessions,
    roles: g.roles,
    apiKeys: g.apiKeys,
    userAdmin: g.userAdmin,
    audit: g.audit,
    emailFlows: g.emailFlows,
    factors: g.factors,
    externalSignIn: g.externalSignIn,
    metrics: g.metrics,
    clients: g.clients,
    tokenIntrospection: g.tokenIntrospection,
  });
}
