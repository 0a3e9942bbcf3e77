/**
 * Counts logins by outcome and tokens by grant around the session service, so the HTTP routes and
 * the in-process API are counted alike, and any refusal a login may raise is counted by its kind
 * wherever in the login it is decided.
 */
import {
  InactiveUserError,
  InvalidCredentialsError,
  LoginThrottledError,
  OverloadedError,
  RateLimitedError,
} from '../auth/errors.ts';
import type { SessionService } from '../auth/sessions.ts';
import type { GatehouseMetrics, LoginMethod, LoginOutcome } from './metrics.ts';

export function loginOutcomeOf(error: unknown): LoginOutcome {
  if (error instanceof InvalidCredentialsError) return 'invalid_credentials';
  if (error instanceof InactiveUserError) return 'disabled';
  if (error instanceof LoginThrottledError || error instanceof RateLimitedError) return 'blocked';
  if (error instanceof OverloadedError) return 'overloaded';
  return 'error';
}

async function counted<T>(metrics: GatehouseMetrics, method: LoginMethod, login: Promise<T>): Promise<T> {
  try {
    const result = await login;
    metrics.login(method, 'success');
    return result;
  } catch (error) {
    metrics.login(method, loginOutcomeOf(error));
    throw error;
  }
}

export function instrumentSessions(sessions: SessionService, metrics: GatehouseMetrics): SessionService {
  return {
    ...sessions,
    async loginWithPassword(...args) {
      const result = await counted(metrics, 'password', sessions.loginWithPassword(...args));
      metrics.tokenIssued('password');
      return result;
    },
    loginWithCookie: (...args) => counted(metrics, 'cookie', sessions.loginWithCookie(...args)),
    async startTokenSession(...args) {
      const pair = await sessions.startTokenSession(...args);
      // Logins by password count in loginWithPassword; a token session started here was proven
      // by other means, named by its method.
      if (args[4] === 'magic_link') metrics.tokenIssued('magic_link');
      if (args[4] === 'external') metrics.tokenIssued('token_exchange');
      return pair;
    },
    async refresh(...args) {
      const pair = await sessions.refresh(...args);
      metrics.tokenIssued('refresh_token');
      return pair;
    },
  };
}
