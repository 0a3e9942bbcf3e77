/** Errors of Gatehouse as an OpenID Provider: the authorization and token endpoints (RFC 6749 §4.1, §5.2). */
import { GatehouseError } from './base.ts';

/**
 * An authorization code that is unknown, expired, spent, issued to another client or for another
 * redirect URI, or whose PKCE verifier does not match (RFC 6749 §5.2 `invalid_grant`).
 */
export class InvalidGrantError extends GatehouseError {
  readonly code = 'INVALID_GRANT' as const;
  /** Why, for logs only; clients see the same message. */
  readonly reason: string;
  constructor(reason: string) {
    super('Invalid authorization grant');
    this.reason = reason;
  }
}

/** The client is not allowed this grant type or request (RFC 6749 §5.2 `unauthorized_client`). */
export class UnauthorizedClientError extends GatehouseError {
  readonly code = 'UNAUTHORIZED_CLIENT' as const;
  constructor(message: string) {
    super(message);
  }
}

/**
 * An authorization request refused before its redirect URI could be trusted (unknown client,
 * redirect URI not registered, bad or spent `request_uri`): shown to the browser, never
 * redirected (RFC 6749 §4.1.2.1). `error` is the OAuth error name.
 */
export class AuthorizationRequestError extends GatehouseError {
  readonly code = 'INVALID_AUTHORIZATION_REQUEST' as const;
  readonly error: string;
  constructor(error: string, message: string) {
    super(message);
    this.error = error;
  }
}
