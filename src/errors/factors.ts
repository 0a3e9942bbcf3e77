/** Errors of second factors, passkeys and the second sign-in step. */
import { GatehouseError } from './base.ts';

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
