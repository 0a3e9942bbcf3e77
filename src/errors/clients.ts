/** Errors of the OpenID Provider's clients: their registry and their authentication. */
import { GatehouseError } from './base.ts';

/**
 * A client failed to authenticate (RFC 6749 §5.2 `invalid_client`): unknown client, wrong or
 * expired secret, another method than the registered one, or a bad `private_key_jwt` assertion.
 */
export class InvalidClientError extends GatehouseError {
  readonly code = 'INVALID_CLIENT' as const;
  /** Why, for logs only; clients always see the same message. */
  readonly reason: string;
  /** RFC 6749 §5.2: a client that tried HTTP Basic gets a `WWW-Authenticate: Basic` challenge. */
  readonly usedBasic: boolean;
  constructor(reason: string, usedBasic: boolean) {
    super('Client authentication failed');
    this.reason = reason;
    this.usedBasic = usedBasic;
  }
}

export class ClientNotFoundError extends GatehouseError {
  readonly code = 'CLIENT_NOT_FOUND' as const;
  constructor() {
    super('Client not found');
  }
}

/** RFC 7591 §3.2.2: metadata a client may not be registered with. */
export class InvalidClientMetadataError extends GatehouseError {
  readonly code = 'INVALID_CLIENT_METADATA' as const;
  /** The RFC 7591 error code. */
  readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  constructor(error: 'invalid_redirect_uri' | 'invalid_client_metadata', description: string) {
    super(description);
    this.error = error;
  }
}
