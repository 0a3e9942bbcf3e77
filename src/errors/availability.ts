/** Refusals the client may retry later: rate limits, login throttling, overload, database outages. */
import { RetryLaterError } from './base.ts';

/** Too many requests from one client (per-IP route limits). */
export class RateLimitedError extends RetryLaterError {
  readonly code = 'RATE_LIMITED' as const;
  constructor(retryAfterSeconds: number) {
    super('Too many requests', retryAfterSeconds);
  }
}

/**
 * Too many failed logins for this account from this IP, or for the account from everywhere
 * (NIST SP 800-63B §5.2.2). The same answer whether or not the account exists.
 */
export class LoginThrottledError extends RetryLaterError {
  readonly code = 'LOGIN_THROTTLED' as const;
  constructor(retryAfterSeconds: number) {
    super('Too many failed login attempts', retryAfterSeconds);
  }
}

/** More password hashes wait than `GATEHOUSE_HASH_QUEUE_MAX`: refuse rather than queue without end. */
export class OverloadedError extends RetryLaterError {
  readonly code = 'OVERLOADED' as const;
  constructor(retryAfterSeconds: number) {
    super('Service unavailable', retryAfterSeconds);
  }
}

/**
 * The database did not answer in time, refused or dropped the connection, or is shutting down.
 * Raised by the store for any query; the request fails fast and may be retried.
 */
export class DatabaseUnavailableError extends RetryLaterError {
  readonly code = 'DATABASE_UNAVAILABLE' as const;
  /** Why, for logs only: an error code or a short driver message, never a connection string. */
  readonly reason: string;
  /**
   * For a host app's own routes that call Gatehouse services: Fastify's default error handler
   * answers with this status and these headers instead of a 500.
   */
  readonly statusCode = 503;
  readonly headers: Readonly<Record<string, string>>;
  constructor(reason: string, options?: { cause?: unknown }) {
    super('Service unavailable', 5);
    this.reason = reason;
    this.headers = { 'retry-after': String(this.retryAfterSeconds) };
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
