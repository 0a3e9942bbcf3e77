/**
 * What a route asks of its caller, checked once here for every adapter: each guard (Fastify hook,
 * Express middleware, Hono middleware, `verifyRequest`) is one `Requirement`. A new kind of check
 * is a field here, a line in `refusalOf` and, if it deserves one, a guard in `guardsOf`.
 */
import { insufficientScope, notAuthenticated, type VerifyError } from './errors.ts';
import type { TokenPrincipal } from './principal.ts';

export interface Requirement {
  /** Let a request without a token through with a null principal (a bad token is still 401). */
  readonly optional?: boolean;
  /** Every one of these scopes; else 403 `insufficient_scope` naming them. */
  readonly scopes?: readonly string[];
  /** At least one of these roles; else 403 `insufficient_scope`. */
  readonly roles?: readonly string[];
}

/** Why `principal` does not meet `requirement`, or undefined when it does. */
export function refusalOf(
  principal: TokenPrincipal | null,
  requirement: Requirement,
): VerifyError | undefined {
  if (principal === null) return requirement.optional ? undefined : notAuthenticated();
  const scopes = requirement.scopes ?? [];
  if (!scopes.every((scope) => principal.scopes.has(scope))) return insufficientScope(scopes);
  const roles = requirement.roles;
  if (roles !== undefined && !principal.roles.some((role) => roles.includes(role))) {
    return insufficientScope([]);
  }
  return undefined;
}

/** The same five guards in every framework's shape. */
export interface Guards<Guard> {
  /** Any valid access token. */
  readonly requireUser: Guard;
  /** A valid token or none (the principal is then null); a bad token is refused. */
  readonly optionalUser: Guard;
  /** A token granted every one of `scopes`. */
  requireScopes(...scopes: string[]): Guard;
  /** A token granted `permission` (a permission is granted as a scope). */
  requirePermission(permission: string): Guard;
  /** A user holding at least one of `roles`. */
  requireRoles(...roles: string[]): Guard;
}

/** Builds the five guards from one function that turns a `Requirement` into a framework's guard. */
export function guardsOf<Guard>(guard: (requirement: Requirement) => Guard): Guards<Guard> {
  return {
    requireUser: guard({}),
    optionalUser: guard({ optional: true }),
    requireScopes: (...scopes) => guard({ scopes }),
    requirePermission: (permission) => guard({ scopes: [permission] }),
    requireRoles: (...roles) => guard({ roles }),
  };
}
