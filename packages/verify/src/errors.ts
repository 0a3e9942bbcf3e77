/** The server's codes for the three ways a bearer request is refused (docs/errors.md). */
export type VerifyErrorCode =
  | 'NOT_AUTHENTICATED'
  | 'INVALID_TOKEN'
  | 'INSUFFICIENT_SCOPE'
  | 'REAUTH_REQUIRED'
  | 'MFA_STEP_UP_REQUIRED';

/**
 * A refused request: `status` 401 (no or bad token) or 403 (missing scope or role), with the
 * RFC 6750 §3 challenge for the `WWW-Authenticate` header. `message` is the `detail` of the answer.
 */
export class VerifyError extends Error {
  readonly status: 401 | 403;
  readonly wwwAuthenticate: string;
  readonly code: VerifyErrorCode;
  constructor(status: 401 | 403, message: string, wwwAuthenticate: string, code?: VerifyErrorCode) {
    super(message);
    this.name = 'VerifyError';
    this.status = status;
    this.wwwAuthenticate = wwwAuthenticate;
    this.code =
      code ??
      (status === 403
        ? 'INSUFFICIENT_SCOPE'
        : wwwAuthenticate.includes('invalid_token')
          ? 'INVALID_TOKEN'
          : 'NOT_AUTHENTICATED');
  }
}

/** No bearer token, or an `Authorization` header that is not `Bearer <token>`. */
export const notAuthenticated = () =>
  new VerifyError(401, 'Not authenticated', 'Bearer', 'NOT_AUTHENTICATED');

/** A token that fails any check; which one is not said (RFC 6750 §3.1). */
export const invalidToken = () =>
  new VerifyError(401, 'Could not validate credentials', 'Bearer error="invalid_token"', 'INVALID_TOKEN');

/** A valid token without what the route needs; `scopes` are named in the challenge when known. */
export const insufficientScope = (scopes: readonly string[]) =>
  new VerifyError(
    403,
    'Not enough permissions',
    // RFC 6750 §3: scope-token values never contain `"` or `\`, so quoting is safe.
    scopes.length > 0
      ? `Bearer error="insufficient_scope", scope="${scopes.join(' ')}"`
      : 'Bearer error="insufficient_scope"',
    'INSUFFICIENT_SCOPE',
  );

/**
 * A valid token whose sign-in (`auth_time`) is older than the route allows, or absent: RFC 9470
 * step-up, answered as the server answers it.
 */
export const reauthRequired = (maxAgeSeconds: number) =>
  new VerifyError(
    401,
    'Recent sign-in required',
    `Bearer error="insufficient_user_authentication", error_description="Recent sign-in required", max_age=${maxAgeSeconds}`,
    'REAUTH_REQUIRED',
  );

/** RFC 9470 §3: the `acr` of a sign-in with two factors, which a step-up to MFA asks for. */
export const MFA_ACR = 'urn:gatehouse:acr:mfa';

/**
 * A valid token whose session was not proven with two factors (`acr`), or not recently enough:
 * RFC 9470 step-up with `acr_values`, answered as the server answers it.
 */
export const mfaStepUpRequired = (maxAgeSeconds: number) =>
  new VerifyError(
    401,
    'Sign-in with a second factor required',
    `Bearer error="insufficient_user_authentication", error_description="Sign-in with a second factor required", acr_values="${MFA_ACR}", max_age=${maxAgeSeconds}`,
    'MFA_STEP_UP_REQUIRED',
  );
