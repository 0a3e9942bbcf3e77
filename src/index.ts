export type { PublicUser } from './auth/accounts.ts';
export type { AnyGatehouseError, GatehouseErrorCode } from './auth/errors.ts';
export {
  EmailTakenError,
  GatehouseError,
  InactiveUserError,
  InvalidCredentialsError,
  InvalidFieldError,
  InvalidTokenError,
  NotAuthenticatedError,
  ReauthRequiredError,
  RegistrationClosedError,
  UnsupportedGrantTypeError,
  UserNotFoundError,
  UsernameTakenError,
} from './auth/errors.ts';
export type { AccessTokenClaims } from './auth/tokens.ts';
export type { Clock } from './clock.ts';
export { createManualClock, systemClock } from './clock.ts';
export type { Config, GatehouseOptions } from './config.ts';
export { ConfigError, configFromOptions, loadConfig } from './config.ts';
export type { CreateGatehouseOptions, Gatehouse } from './gatehouse.ts';
export { bootstrapAdmin, createGatehouse } from './gatehouse.ts';
export type { Guard, Guards, Principal, RecentAuthOptions } from './http/guards.ts';
export type { GatehouseMetrics } from './observability/metrics.ts';
export type { GatehouseFromOptions, GatehousePluginOptions } from './plugin.ts';
export { gatehouse, gatehousePlugin } from './plugin.ts';
export { buildServer } from './server.ts';
