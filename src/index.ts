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
  RegistrationClosedError,
  UnsupportedGrantTypeError,
  UserNotFoundError,
  UsernameTakenError,
} from './auth/errors.ts';
export type { AccessTokenClaims } from './auth/tokens.ts';
export type { Clock } from './clock.ts';
export type { Config } from './config.ts';
export { ConfigError, loadConfig } from './config.ts';
export type { CreateGatehouseOptions, Gatehouse } from './gatehouse.ts';
export { bootstrapAdmin, createGatehouse } from './gatehouse.ts';
export type { Guards, Principal } from './http/guards.ts';
export type { GatehousePluginOptions } from './plugin.ts';
export { gatehousePlugin } from './plugin.ts';
export { buildServer } from './server.ts';
