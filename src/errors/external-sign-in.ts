/** Errors of external sign-in: providers, their answers, and connected accounts (docs/external-sign-in.md). */
import { GatehouseError } from './base.ts';

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
  constructor(message = 'This is your only way to sign in') {
    super(message);
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
