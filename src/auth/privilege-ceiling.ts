/**
 * Who acts on users and roles, and the ceiling on what they may grant: the Kubernetes RBAC
 * escalation rule. A user may grant only what they hold, and may touch only users and roles
 * whose permissions they hold: the actor's permissions are those of the credential (a narrowed
 * token or an API key carries only its scopes). Holding every permission of the `admin` role
 * lifts the ceiling; so does acting as the operator (the CLI, or a host app's own code).
 */
import { PrivilegeEscalationError } from './errors.ts';

/** A user acting through a credential; `permissions` are the credential's effective scopes. */
export interface UserActor {
  readonly kind: 'user';
  readonly userId: string;
  readonly permissions: ReadonlySet<string>;
}

/** Whoever runs the deployment: the CLI or a host app's own code. No ceiling. */
export interface OperatorActor {
  readonly kind: 'operator';
  /** Written to audit events as the actor (`cli`, or what the host app names itself). */
  readonly name: string;
}

export type Actor = UserActor | OperatorActor;

/** The operator as a host app's own code; the CLI acts as `operatorActor('cli')`. */
export function operatorActor(name = 'operator'): OperatorActor {
  return { kind: 'operator', name };
}

/** The actor's name in audit events: the user's id, or the operator's name. */
export function actorName(actor: Actor): string {
  return actor.kind === 'user' ? actor.userId : actor.name;
}

export interface PrivilegeCeiling {
  /** The operator, or an admin through this credential: nothing is above them. */
  isUnlimited(actor: Actor): boolean;
  /** Whether `actor` holds every permission of `roles` (always, for the operator and admins). */
  mayHoldRoles(actor: Actor, roles: readonly string[]): boolean;
  /** Throws PrivilegeEscalationError unless `actor` holds every one of `permissions`. */
  checkPermissions(actor: Actor, permissions: Iterable<string>): void;
  /** Throws unless `actor` holds every permission of `roles` (to grant them, or touch a holder). */
  checkRoles(actor: Actor, roles: readonly string[]): void;
}

export function createPrivilegeCeiling(
  permissionsOf: (roles: readonly string[]) => ReadonlySet<string>,
  adminRole: string,
): PrivilegeCeiling {
  // An admin (every permission of the admin role, through this credential) may grant anything,
  // including an app's own permissions that the admin role was never given.
  function isUnlimited(actor: Actor): boolean {
    if (actor.kind === 'operator') return true;
    for (const permission of permissionsOf([adminRole])) if (!actor.permissions.has(permission)) return false;
    return true;
  }
  function missing(actor: Actor, permissions: Iterable<string>): string[] {
    if (actor.kind === 'operator') return [];
    const lacking = [...permissions].filter((permission) => !actor.permissions.has(permission));
    return lacking.length === 0 || isUnlimited(actor) ? [] : lacking;
  }
  function checkPermissions(actor: Actor, permissions: Iterable<string>): void {
    const lacking = missing(actor, permissions);
    if (lacking.length > 0) throw new PrivilegeEscalationError(lacking.sort());
  }
  return {
    isUnlimited,
    mayHoldRoles: (actor, roles) => missing(actor, permissionsOf(roles)).length === 0,
    checkPermissions,
    checkRoles: (actor, roles) => checkPermissions(actor, permissionsOf(roles)),
  };
}
