/** Errors of proving who is calling: credentials, tokens, sessions, CSRF, scopes and recent sign-in. */
import { GatehouseError } from './base.ts';

/** Wrong username or password (the same answer whether or not the user exists). */
export class InvalidCredentialsError extends GatehouseError {
  readonly code = 'INVALID_CREDENTIALS' as const;
  constructor() {
    super('Incorrect username or password');
  }
}

export class InactiveUserError extends GatehouseError {
  readonly code = 'INACTIVE_USER' as const;
  constructor() {
    super('Inactive user');
  }
}

export class NotAuthenticatedError extends GatehouseError {
  readonly code = 'NOT_AUTHENTICATED' as const;
  readonly scheme: 'Bearer' | 'Basic';
  constructor(scheme: 'Bearer' | 'Basic' = 'Bearer', message = 'Not authenticated') {
    super(message);
    this.scheme = scheme;
  }
}

/** A bearer token that is malformed, forged, expired, foreign, or whose user is gone. */
export class InvalidTokenError extends GatehouseError {
  readonly code = 'INVALID_TOKEN' as const;
  /** Why, for logs only; clients always see the same message. */
  readonly reason: string;
  constructor(reason: string) {
    super('Could not validate credentials');
    this.reason = reason;
  }
}

export class UnsupportedGrantTypeError extends GatehouseError {
  readonly code = 'UNSUPPORTED_GRANT_TYPE' as const;
  constructor(grantType: string) {
    super(`Unsupported grant_type "${grantType.slice(0, 40)}"`);
  }
}

/** A refresh token that is unknown, forged, spent (outside the grace window), expired or revoked. */
export class InvalidRefreshTokenError extends GatehouseError {
  readonly code = 'INVALID_REFRESH_TOKEN' as const;
  /** Why, for logs and audit only; clients see the same message. */
  readonly reason: string;
  constructor(reason: string) {
    super('Invalid refresh token');
    this.reason = reason;
  }
}

/** A refresh asked for a scope the original grant did not include (RFC 6749 §6). */
export class InvalidScopeError extends GatehouseError {
  readonly code = 'INVALID_SCOPE' as const;
  constructor() {
    super('The requested scope exceeds the scope originally granted');
  }
}

export class SessionNotFoundError extends GatehouseError {
  readonly code = 'SESSION_NOT_FOUND' as const;
  constructor() {
    super('Session not found');
  }
}

export class IncorrectPasswordError extends GatehouseError {
  readonly code = 'INCORRECT_PASSWORD' as const;
  constructor() {
    super('Incorrect password');
  }
}

export class CsrfError extends GatehouseError {
  readonly code = 'CSRF_FAILED' as const;
  readonly reason: string;
  constructor(reason: string) {
    super('CSRF check failed');
    this.reason = reason;
  }
}

/** The caller is authenticated but lacks a scope, permission or role (RFC 6750 §3.1). */
export class InsufficientScopeError extends GatehouseError {
  readonly code = 'INSUFFICIENT_SCOPE' as const;
  /** The scopes the route needs, for the `WWW-Authenticate` scope attribute. */
  readonly scopes: readonly string[];
  constructor(scopes: readonly string[]) {
    super('Not enough permissions');
    this.scopes = scopes;
  }
}

/**
 * The action needs a recent sign-in (RFC 9470): the credential proved no password within
 * `maxAgeSeconds`, or cannot (an API key). `POST /reauthenticate` proves it again.
 */
export class ReauthRequiredError extends GatehouseError {
  readonly code = 'REAUTH_REQUIRED' as const;
  readonly maxAgeSeconds: number;
  /** For a host app's handler that calls `guards.assertRecentAuth`: Fastify's default handler answers 401 with the challenge. */
  readonly statusCode = 401;
  readonly headers: Readonly<Record<string, string>>;
  constructor(maxAgeSeconds: number) {
    super('Recent sign-in required');
    this.maxAgeSeconds = maxAgeSeconds;
    this.headers = { 'www-authenticate': reauthChallenge(this.message, maxAgeSeconds) };
  }
}

/** RFC 9470 §3: the error, and the max_age the action wants. */
export function reauthChallenge(description: string, maxAgeSeconds: number): string {
  return `Bearer error="insufficient_user_authentication", error_description="${description}", max_age=${maxAgeSeconds}`;
}
