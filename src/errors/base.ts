/**
 * The base of Gatehouse's domain errors and their codes. Codes are public API (docs/errors.md);
 * never reuse a retired one. The mapping to HTTP lives in http/errors.ts.
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
  | 'UNKNOWN_PROVIDER'
  | 'EXTERNAL_SIGN_IN_FAILED'
  | 'EXTERNAL_ACCOUNT_EXISTS'
  | 'IDENTITY_LINKED_ELSEWHERE'
  | 'IDENTITY_NOT_FOUND'
  | 'LAST_SIGN_IN_METHOD'
  | 'INVALID_SUBJECT_TOKEN'
  | 'INVALID_CLIENT'
  | 'CLIENT_NOT_FOUND'
  | 'INVALID_CLIENT_METADATA'
  | 'INVALID_GRANT'
  | 'UNAUTHORIZED_CLIENT'
  | 'INVALID_AUTHORIZATION_REQUEST';

export abstract class GatehouseError extends Error {
  abstract readonly code: GatehouseErrorCode;
  constructor(message: string) {
    super(message);
    // Logs and stack traces name the class (`InvalidTokenError: …`), not `Error`.
    this.name = new.target.name;
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
