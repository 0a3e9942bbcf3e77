/**
 * Gatehouse's domain errors, by topic in errors/. Every module there imports nothing outside it,
 * so every layer, `store/` included, may raise them.
 */
export {
  EmailNotVerifiedError,
  EmailTakenError,
  InvalidEmailTokenError,
  InvalidFieldError,
  RegistrationClosedError,
  UserNotFoundError,
  UsernameTakenError,
} from './errors/accounts.ts';
export {
  ApiKeyNotFoundError,
  BuiltinRoleError,
  LastAdminError,
  PrivilegeEscalationError,
  RoleExistsError,
  RoleInUseError,
  RoleNotFoundError,
} from './errors/administration.ts';
export type { AnyGatehouseError } from './errors/any.ts';
export {
  DatabaseUnavailableError,
  LoginThrottledError,
  OverloadedError,
  RateLimitedError,
} from './errors/availability.ts';
export type { GatehouseErrorCode } from './errors/base.ts';
export { GatehouseError, RetryLaterError } from './errors/base.ts';
export { ClientNotFoundError, InvalidClientError, InvalidClientMetadataError } from './errors/clients.ts';
export {
  CsrfError,
  InactiveUserError,
  IncorrectPasswordError,
  InsufficientScopeError,
  InvalidCredentialsError,
  InvalidRefreshTokenError,
  InvalidScopeError,
  InvalidTokenError,
  NotAuthenticatedError,
  ReauthRequiredError,
  reauthChallenge,
  SessionNotFoundError,
  UnsupportedGrantTypeError,
} from './errors/credentials.ts';
export {
  ExternalAccountExistsError,
  ExternalSignInError,
  IdentityLinkedElsewhereError,
  IdentityNotFoundError,
  InvalidSubjectTokenError,
  LastSignInMethodError,
  UnknownProviderError,
} from './errors/external-sign-in.ts';
export {
  FactorNotFoundError,
  type FactorSummary,
  InvalidFactorCodeError,
  InvalidMfaTokenError,
  MFA_ACR,
  MfaEnrollmentRequiredError,
  MfaRequiredError,
  MfaStepUpRequiredError,
  MfaUnavailableError,
  WebAuthnFailedError,
} from './errors/factors.ts';
export {
  AuthorizationRequestError,
  InvalidGrantError,
  UnauthorizedClientError,
} from './errors/oidc-provider.ts';
