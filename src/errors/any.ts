/** Every concrete domain error: `switch (error.code)` narrows it to one class. */
import type {
  EmailNotVerifiedError,
  EmailTakenError,
  InvalidEmailTokenError,
  InvalidFieldError,
  RegistrationClosedError,
  UserNotFoundError,
  UsernameTakenError,
} from './accounts.ts';
import type {
  ApiKeyNotFoundError,
  BuiltinRoleError,
  LastAdminError,
  PrivilegeEscalationError,
  RoleExistsError,
  RoleInUseError,
  RoleNotFoundError,
} from './administration.ts';
import type {
  DatabaseUnavailableError,
  LoginThrottledError,
  OverloadedError,
  RateLimitedError,
} from './availability.ts';
import type { ClientNotFoundError, InvalidClientError, InvalidClientMetadataError } from './clients.ts';
import type {
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
  SessionNotFoundError,
  UnsupportedGrantTypeError,
} from './credentials.ts';
import type {
  ExternalAccountExistsError,
  ExternalSignInError,
  IdentityLinkedElsewhereError,
  IdentityNotFoundError,
  InvalidSubjectTokenError,
  LastSignInMethodError,
  UnknownProviderError,
} from './external-sign-in.ts';
import type {
  FactorNotFoundError,
  InvalidFactorCodeError,
  InvalidMfaTokenError,
  MfaEnrollmentRequiredError,
  MfaRequiredError,
  MfaStepUpRequiredError,
  MfaUnavailableError,
  WebAuthnFailedError,
} from './factors.ts';
import type {
  AuthorizationRequestError,
  InvalidGrantError,
  UnauthorizedClientError,
} from './oidc-provider.ts';

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
  | UnknownProviderError
  | ExternalSignInError
  | ExternalAccountExistsError
  | IdentityLinkedElsewhereError
  | IdentityNotFoundError
  | LastSignInMethodError
  | InvalidSubjectTokenError
  | InvalidClientError
  | ClientNotFoundError
  | InvalidClientMetadataError
  | InvalidGrantError
  | UnauthorizedClientError
  | AuthorizationRequestError;
