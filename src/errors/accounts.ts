/** Errors of accounts: registration, profile fields, and emailed links. */
import { GatehouseError } from './base.ts';

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

export class UserNotFoundError extends GatehouseError {
  readonly code = 'USER_NOT_FOUND' as const;
  constructor() {
    super('User not found');
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
