/** Errors of administering roles, admins and API keys. */
import { GatehouseError } from './base.ts';

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
