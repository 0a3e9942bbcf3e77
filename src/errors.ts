/**
 * Gatehouse's domain errors. Codes are public API (docs/errors.md); never reuse a retired one.
 * The mapping to HTTP lives in http/errors.ts. This module imports nothing, so every layer,
 * `store/` included, may raise them.
 */
export type GatehouseErrorCode =
  | 'INVALID_CREDENTIALS'
  | 'INACTIVE_USER'
  | 'NOT_AUTHENTICATED'
  | 'INVALID_TOKEN'
  | 'USERNAME_TAKEN'
  | 'EMAIL_TAKEN'
  | 'INVALID_FIELD'
  | 'REGISTRATION_CLOSED'
  | 'UNSUPPORTED_GRANT_TYPE'
  | 'USER_NOT_FOUND'
  | 'INVALID_REFRESH_TOKEN'
  | 'INVALID_SCOPE'
  | 'SESSION_NOT_FOUND'
  | 'INCORRECT_PASSWORD'
  | 'CSRF_FAILED'
  | 'INSUFFICIENT_SCOPE'
  | 'ROLE_NOT_FOUND'
  | 'ROLE_EXISTS'
  | 'ROLE_IN_USE'
  | 'BUILTIN_ROLE'
  | 'LAST_ADMIN'
  | 'API_KEY_NOT_FOUND'
  | 'RATE_LIMITED'
  | 'LOGIN_THROTTLED'
  | 'OVERLOADED'
  | 'EMAIL_NOT_VERIFIED'
  | 'INVALID_EMAIL_TOKEN'
  | 'DATABASE_UNAVAILABLE'
  | 'PRIVILEGE_ESCALATION'
  | 'REAUTH_REQUIRED'
  | 'UNKNOWN_PROVIDER'
  | 'EXTERNAL_SIGN_IN_FAILED'
  | 'EXTERNAL_ACCOUNT_EXISTS'
  | 'IDENTITY_LINKED_ELSEWHERE'
  | 'IDENTITY_NOT_FOUND'
  | 'LAST_SIGN_IN_METHOD'
  | 'INVALID_SUBJECT_TOKEN';

export abstract class GatehouseError extends Error {
  abstract readonly code: GatehouseErrorCode;
  constructor(message: string) {
    super(message);
    // Logs and stack traces name the class (`InvalidTokenError: …`), not `Error`.
    this.name = new.target.name;
  }
}

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

export class UsernameTakenError extends GatehouseError {
  readonly code = 'USERNAME_TAKEN' as const;
  constructor() {
    super('Username already registered');
  }
}

export class EmailTakenError extends GatehouseError {
  readonly code = 'EMAIL_TAKEN' as const;
  constructor() {
    super('Email already registered');
  }
}

/** A field that passed the schema but breaks a domain rule; reported like a validation error. */
export class InvalidFieldError extends GatehouseError {
  readonly code = 'INVALID_FIELD' as const;
  readonly field: string;
  readonly type: string;
  /** Where the field was sent, as FastAPI's `loc` names it. */
  readonly location: 'body' | 'query' | 'path';
  constructor(field: string, message: string, type: string, location: 'body' | 'query' | 'path' = 'body') {
    super(message);
    this.field = field;
    this.type = type;
    this.location = location;
  }
}

export class RegistrationClosedError extends GatehouseError {
  readonly code = 'REGISTRATION_CLOSED' as const;
  constructor() {
    super('Registration is closed');
  }
}

export class UnsupportedGrantTypeError extends GatehouseError {
  readonly code = 'UNSUPPORTED_GRANT_TYPE' as const;
  constructor(grantType: string) {
    super(`Unsupported grant_type "${grantType.slice(0, 40)}"`);
  }
}

export class UserNotFoundError extends GatehouseError {
  readonly code = 'USER_NOT_FOUND' as const;
  constructor() {
    super('User not found');
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

export class RoleNotFoundError extends GatehouseError {
  readonly code = 'ROLE_NOT_FOUND' as const;
  constructor() {
    super('Role not found');
  }
}

export class RoleExistsError extends GatehouseError {
  readonly code = 'ROLE_EXISTS' as const;
  constructor() {
    super('Role already exists');
  }
}

export class RoleInUseError extends GatehouseError {
  readonly code = 'ROLE_IN_USE' as const;
  constructor(users: number) {
    super(`Role is held by ${users} user(s); delete with ?force=true to remove it from them`);
  }
}

export class BuiltinRoleError extends GatehouseError {
  readonly code = 'BUILTIN_ROLE' as const;
  constructor() {
    super('Built-in roles cannot be deleted');
  }
}

/** The change would leave no enabled admin, or an admin would lock themselves out. */
export class LastAdminError extends GatehouseError {
  readonly code = 'LAST_ADMIN' as const;
  constructor(message: string) {
    super(message);
  }
}

/**
 * The change would grant, or touch someone holding, a permission the acting credential lacks
 * (the Kubernetes RBAC escalation rule: you may grant only what you hold).
 */
export class PrivilegeEscalationError extends GatehouseError {
  readonly code = 'PRIVILEGE_ESCALATION' as const;
  /** The permissions the actor lacks, for logs only. */
  readonly missing: readonly string[];
  constructor(missing: readonly string[]) {
    super('Not enough permissions');
    this.missing = missing;
  }
}

export class ApiKeyNotFoundError extends GatehouseError {
  readonly code = 'API_KEY_NOT_FOUND' as const;
  constructor() {
    super('API key not found');
  }
}

/** A refusal the client may retry after `retryAfterSeconds` (sent as `Retry-After`). */
export abstract class RetryLaterError extends GatehouseError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

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

/** `GATEHOUSE_REQUIRE_VERIFIED_EMAIL=true` and the password was right but the address is unverified. */
export class EmailNotVerifiedError extends GatehouseError {
  readonly code = 'EMAIL_NOT_VERIFIED' as const;
  constructor() {
    super('Email not verified');
  }
}

/** An emailed link's token that is unknown, spent, expired, of another purpose, or outdated. */
export class InvalidEmailTokenError extends GatehouseError {
  readonly code = 'INVALID_EMAIL_TOKEN' as const;
  /** Why, for logs only; clients always see the same message. */
  readonly reason: string;
  constructor(reason: string) {
    super('Invalid or expired token');
    this.reason = reason;
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

export class UnknownProviderError extends GatehouseError {
  readonly code = 'UNKNOWN_PROVIDER' as const;
  constructor() {
    super('Unknown sign-in provider');
  }
}

/**
 * The provider refused or failed the sign-in (`access_denied`, …), or its answer failed a check:
 * state, `iss`, PKCE, the ID token's signature, issuer, audience, nonce or expiry.
 */
export class ExternalSignInError extends GatehouseError {
  readonly code = 'EXTERNAL_SIGN_IN_FAILED' as const;
  /** Why, for logs only. */
  readonly reason: string;
  /** The provider's own `error` (RFC 6749 §4.1.2.1), when it sent one. */
  readonly providerError: string | undefined;
  constructor(reason: string, providerError?: string, options?: { cause?: unknown }) {
    super('Sign-in with the provider failed');
    this.reason = reason;
    this.providerError = providerError;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** An unlinked identity whose address belongs to an account it may not link to by itself. */
export class ExternalAccountExistsError extends GatehouseError {
  readonly code = 'EXTERNAL_ACCOUNT_EXISTS' as const;
  constructor() {
    super(
      'An account with this email address exists: sign in with its password, then connect this provider from your account page',
    );
  }
}

export class IdentityLinkedElsewhereError extends GatehouseError {
  readonly code = 'IDENTITY_LINKED_ELSEWHERE' as const;
  constructor() {
    super('This account at the provider is connected to another user');
  }
}

export class IdentityNotFoundError extends GatehouseError {
  readonly code = 'IDENTITY_NOT_FOUND' as const;
  constructor() {
    super('Connected account not found');
  }
}

/** Unlinking would leave the account with no password, no other identity and no passkey. */
export class LastSignInMethodError extends GatehouseError {
  readonly code = 'LAST_SIGN_IN_METHOD' as const;
  constructor() {
    super('This is your only way to sign in');
  }
}

/** The token-exchange grant's `subject_token` failed verification or was used before (RFC 8693 §2.2.2). */
export class InvalidSubjectTokenError extends GatehouseError {
  readonly code = 'INVALID_SUBJECT_TOKEN' as const;
  /** Why, for logs only; clients always see the same message. */
  readonly reason: string;
  constructor(reason: string) {
    super('Invalid subject_token');
    this.reason = reason;
  }
}

export type AnyGatehouseError =
  | InvalidCredentialsError
  | InactiveUserError
  | NotAuthenticatedError
  | InvalidTokenError
  | UsernameTakenError
  | EmailTakenError
  | InvalidFieldError
  | RegistrationClosedError
  | UnsupportedGrantTypeError
  | UserNotFoundError
  | InvalidRefreshTokenError
  | InvalidScopeError
  | SessionNotFoundError
  | IncorrectPasswordError
  | CsrfError
  | InsufficientScopeError
  | RoleNotFoundError
  | RoleExistsError
  | RoleInUseError
  | BuiltinRoleError
  | LastAdminError
  | ApiKeyNotFoundError
  | RateLimitedError
  | LoginThrottledError
  | OverloadedError
  | EmailNotVerifiedError
  | InvalidEmailTokenError
  | DatabaseUnavailableError
  | PrivilegeEscalationError
  | ReauthRequiredError
  | UnknownProviderError
  | ExternalSignInError
  | ExternalAccountExistsError
  | IdentityLinkedElsewhereError
  | IdentityNotFoundError
  | LastSignInMethodError
  | InvalidSubjectTokenError;
