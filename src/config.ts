/**
 * Environment → typed, validated, frozen Config. Every setting is one row of SETTINGS (by area in
 * config/settings/); docs/settings.md is generated from it (`npm run docs:settings`).
 */
export { ConfigError, configFromOptions, loadConfig, readEnvironment } from './config/load.ts';
export { maskSmtpUrl, parseDurationSeconds } from './config/parsers.ts';
export { SETTINGS } from './config/settings.ts';
export type {
  Config,
  GatehouseOptions,
  JwtAlgorithm,
  LogLevel,
  OidcProviderOptions,
  RateLimit,
} from './config/types.ts';
