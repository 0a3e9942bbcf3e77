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
  | 'MFA_REQUIRED'
  | 'MFA_ENROLLMENT_REQUIRED'
  | 'INVALID_MFA_TOKEN'
  | 'INVALID_FACTOR_CODE'
  | 'WEBAUTHN_FAILED'
  | 'FACTOR_NOT_FOUND'
  | 'MFA_STEP_UP_REQUIRED'
  | 'MFA_UNAVAILABLE'
  | 'LAST_SIGN_IN_METHOD';

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

/** One second factor as the first step's answer lists it. */
export interface FactorSummary {
  readonly id: string;
  readonly type: 'totp' | 'webauthn';
  readonly name: string;
}

/** The password (or link) was right; the account has a second factor: no session yet (403 `mfa_required`). */
export class MfaRequiredError extends GatehouseError {
  readonly code = 'MFA_REQUIRED' as const;
  /** Single use, 5 minutes, bound to this first step: completes it at the second step. */
  readonly mfaToken: string;
  readonly factors: readonly FactorSummary[];
  constructor(mfaToken: string, factors: readonly FactorSummary[]) {
    super('A second factor is required to finish signing in');
    this.mfaToken = mfaToken;
    this.factors = factors;
  }
}

/** `GATEHOUSE_MFA` requires a second factor and the account has none (403 `mfa_enrollment_required`). */
export class MfaEnrollmentRequiredError extends GatehouseError {
  readonly code = 'MFA_ENROLLMENT_REQUIRED' as const;
  /** Can only enrol a factor (bearer on the factor routes); single sign-in after confirmation. */
  readonly enrollmentToken: string;
  constructor(enrollmentToken: string) {
    super('This account must set up a second factor before signing in');
    this.enrollmentToken = enrollmentToken;
  }
}

/** An `mfa_token` or enrollment token that is unknown, expired, spent or of another first step. */
export class InvalidMfaTokenError extends GatehouseError {
  readonly code = 'INVALID_MFA_TOKEN' as const;
  /** Why, for logs only. */
  readonly reason: string;
  constructor(reason: string) {
    super('Invalid or expired mfa_token');
    this.reason = reason;
  }
}

/** A one-time or recovery code that is wrong, replayed or spent (counted as a failed login). */
export class InvalidFactorCodeError extends GatehouseError {
  readonly code = 'INVALID_FACTOR_CODE' as const;
  constructor(message = 'Invalid code') {
    super(message);
  }
}

/** A WebAuthn ceremony that failed verification (wrong challenge, origin, signature, counter). */
export class WebAuthnFailedError extends GatehouseError {
  readonly code = 'WEBAUTHN_FAILED' as const;
  /** Why, for logs only. */
  readonly reason: string;
  constructor(reason: string) {
    super('Passkey verification failed');
    this.reason = reason;
  }
}

export class FactorNotFoundError extends GatehouseError {
  readonly code = 'FACTOR_NOT_FOUND' as const;
  constructor() {
    super('Factor not found');
  }
}

/** RFC 9470 §3: the ACR that a step-up to two factors asks for. */
export const MFA_ACR = 'urn:gatehouse:acr:mfa';

/**
 * The action needs a sign-in with two factors (RFC 9470 `acr_values`), and within `maxAgeSeconds`
 * when given: the credential's session was proven with one factor only.
 */
export class MfaStepUpRequiredError extends GatehouseError {
  readonly code = 'MFA_STEP_UP_REQUIRED' as const;
  readonly maxAgeSeconds: number | undefined;
  readonly statusCode = 401;
  readonly headers: Readonly<Record<string, string>>;
  constructor(maxAgeSeconds?: number) {
    super('Sign-in with a second factor required');
    this.maxAgeSeconds = maxAgeSeconds;
    this.headers = {
      'www-authenticate': `Bearer error="insufficient_user_authentication", error_description="${this.message}", acr_values="${MFA_ACR}"${maxAgeSeconds === undefined ? '' : `, max_age=${maxAgeSeconds}`}`,
    };
  }
}

/** Authenticator apps need `GATEHOUSE_ENCRYPTION_KEY`, which the server does not have. */
export class MfaUnavailableError extends GatehouseError {
  readonly code = 'MFA_UNAVAILABLE' as const;
  constructor() {
    super('Authenticator apps are not available: the server has no GATEHOUSE_ENCRYPTION_KEY');
  }
}

/** The change would leave the account with no way to sign in. */
export class LastSignInMethodError extends GatehouseError {
  readonly code = 'LAST_SIGN_IN_METHOD' as const;
  constructor(message = 'This is the last way to sign in to this account') {
    super(message);
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
  | MfaRequiredError
  | MfaEnrollmentRequiredError
  | InvalidMfaTokenError
  | InvalidFactorCodeError
  | WebAuthnFailedError
  | FactorNotFoundError
  | MfaStepUpRequiredError
  | MfaUnavailableError
  | LastSignInMethodError;
