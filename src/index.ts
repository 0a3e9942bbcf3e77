/**
 * The public entry. `./fastify-types.ts` adds `app.gatehouse`, `request.principal` and
 * `config.gatehouse` to Fastify's types; importing it here ships them in the declarations.
 */
import './fastify-types.ts';

export type { PublicUser } from './auth/accounts.ts';
export type { Principal } from './auth/authenticate.ts';
export type { AnyGatehouseError, GatehouseErrorCode } from './auth/errors.ts';
export {
  EmailTakenError,
  GatehouseError,
  InactiveUserError,
  InvalidCredentialsError,
  InvalidFieldError,
  InvalidTokenError,
  LastAdminError,
  NotAuthenticatedError,
  PrivilegeEscalationError,
  ReauthRequiredError,
  RegistrationClosedError,
  UnsupportedGrantTypeError,
  UserNotFoundError,
  UsernameTakenError,
} from './auth/errors.ts';
export type {
  ExternalSignInService,
  IdentityView,
  ProviderSummary,
} from './auth/external/sign-in.ts';
export type { ProviderTokens } from './auth/external/token-vault.ts';
export type { Actor, OperatorActor, UserActor } from './auth/privilege-ceiling.ts';
export { operatorActor } from './auth/privilege-ceiling.ts';
export type { AccessTokenClaims } from './auth/tokens.ts';
export { bootstrapAdmin } from './bootstrap-admin.ts';
export type { Clock } from './clock.ts';
export { createManualClock, systemClock } from './clock.ts';
export type { Config, GatehouseOptions, OidcProviderOptions } from './config.ts';
export { ConfigError, configFromOptions, loadConfig } from './config.ts';
export type { GatehouseDecorator, GatehouseRouteConfig } from './fastify-types.ts';
export type { CreateGatehouseOptions, Gatehouse, GatehouseServices } from './gatehouse.ts';
export { createGatehouse } from './gatehouse.ts';
export type { Guard, Guards, RecentAuthOptions } from './http/guards.ts';
export { actorOf } from './http/guards.ts';
export type { GatehouseMetrics } from './observability/metrics.ts';
export type { GatehouseFromOptions, GatehousePluginOptions } from './plugin.ts';
export { gatehouse, gatehouse as default, gatehousePlugin } from './plugin.ts';
export { buildServer } from './server.ts';
