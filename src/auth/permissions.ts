/**
 * Roles and permissions. A user's permissions are the union over their roles; the role → permission
 * catalogue is held in memory (it changes rarely and is read on every request) and reloaded after
 * each change here and at every maintenance run, so changes made elsewhere arrive within a minute.
 */
import { type Clock, systemClock } from '../clock.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import {
  countUsersWithRole,
  deleteRole,
  insertRole,
  listRoles,
  type RoleRecord,
  rolesOfHolders,
  updateRole,
} from '../store/roles.ts';
import {
  BuiltinRoleError,
  InvalidFieldError,
  RoleExistsError,
  RoleInUseError,
  RoleNotFoundError,
} from './errors.ts';
import { type Actor, createPrivilegeCeiling, type PrivilegeCeiling } from './privilege-ceiling.ts';
import { auditSource, changedFields, NO_REQUEST, type RequestContext } from './request-context.ts';

export type { RoleRecord } from '../store/roles.ts';

export const BUILTIN_PERMISSIONS: readonly string[] = [
  'profile:read',
  'profile:write',
  'users:read',
  'users:write',
  'roles:read',
  'roles:write',
  'sessions:revoke',
  'audit:read',
  'apikeys:write',
  'clients:read',
  'clients:write',
];

export const BUILTIN_ROLES: readonly string[] = ['user', 'moderator', 'admin'];
export const ADMIN_ROLE = 'admin';

const ROLE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
// A permission is also an OAuth scope-token (RFC 6749 §3.3), so it may be requested as a scope.
export const PERMISSION = /^[a-z0-9][a-z0-9_.-]{0,31}(:[a-z0-9*][a-z0-9_.*-]{0,31}){0,3}$/;

export function checkRoleName(name: string, field = 'name'): void {
  if (!ROLE_NAME.test(name)) {
    throw new InvalidFieldError(
      field,
      'Role names are 1–32 of a-z, 0-9, "_" and "-", starting with a letter or digit',
      'value_error.role',
    );
  }
}

export function checkPermissions(permissions: readonly string[], field = 'permissions'): string[] {
  for (const permission of permissions) {
    if (!PERMISSION.test(permission)) {
      throw new InvalidFieldError(
        field,
        `"${permission.slice(0, 40)}" is not a permission like "items:write" (lower-case, ":"-separated)`,
        'value_error.permission',
      );
    }
  }
  return [...new Set(permissions)].sort();
}

export interface RoleService {
  /** Permissions granted by holding `roles` (synchronous: the request path calls it). */
  permissionsOf(roles: readonly string[]): ReadonlySet<string>;
  /** What an actor may grant and touch, by the current catalogue. */
  readonly ceiling: PrivilegeCeiling;
  /** Every permission some role grants, plus the built-in ones: the grantable scopes. */
  knownPermissions(): string[];
  listRoles(): Promise<RoleRecord[]>;
  /**
   * The changes below are made by `actor`, who may create, change or delete only roles whose
   * permissions (before and after) they hold (PrivilegeEscalationError otherwise). Each change
   * writes `role.created`, `role.updated` or `role.deleted`.
   */
  createRole(
    actor: Actor,
    name: string,
    description: string,
    permissions: readonly string[],
    ctx?: RequestContext,
  ): Promise<RoleRecord>;
  updateRole(
    actor: Actor,
    name: string,
    changes: { description?: string; permissions?: readonly string[] },
    ctx?: RequestContext,
  ): Promise<RoleRecord>;
  /** With `force`, the role is also taken from its holders, whom the actor must be able to change. */
  deleteRole(actor: Actor, name: string, force: boolean, ctx?: RequestContext): Promise<void>;
  reload(): Promise<void>;
}

export async function createRoleService(
  store: Store,
  /** Told after every change to the catalogue, so other processes can reload theirs. */
  onChanged: () => void = () => {},
  clock: Clock = systemClock,
): Promise<RoleService> {
  let catalog = new Map<string, ReadonlySet<string>>();
  let known: string[] = [];

  async function reload(): Promise<void> {
    const roles = await listRoles(store.db);
    catalog = new Map(roles.map((role) => [role.name, new Set(role.permissions)]));
    known = [...new Set([...BUILTIN_PERMISSIONS, ...roles.flatMap((role) => role.permissions)])].sort();
  }

  async function getRoleOrThrow(name: string): Promise<RoleRecord> {
    const role = (await listRoles(store.db)).find((r) => r.name === name);
    if (role === undefined) throw new RoleNotFoundError();
    return role;
  }

  function permissionsOf(roles: readonly string[]): ReadonlySet<string> {
    if (roles.length === 1) return catalog.get(roles[0] ?? '') ?? new Set();
    const union = new Set<string>();
    for (const role of roles) for (const permission of catalog.get(role) ?? []) union.add(permission);
    return union;
  }
  const ceiling = createPrivilegeCeiling(permissionsOf, ADMIN_ROLE);

  await reload();
  return {
    permissionsOf,
    ceiling,
    knownPermissions: () => known,
    listRoles: () => listRoles(store.db),
    async createRole(actor, name, description, permissions, ctx = NO_REQUEST) {
      checkRoleName(name);
      const normalized = checkPermissions(permissions);
      ceiling.checkPermissions(actor, normalized);
      try {
        await store.db.transaction().execute(async (trx) => {
          await insertRole(trx, { name, description, permissions: normalized });
          await recordAuditEvent(trx, {
            event: 'role.created',
            at: clock.now(),
            target: name,
            ...auditSource(ctx),
            details: { fields: ['description', 'name', 'permissions'], permissions: normalized },
          });
        });
      } catch (error) {
        if (store.isUniqueViolation(error)) throw new RoleExistsError();
        throw error;
      }
      await reload();
      onChanged();
      return getRoleOrThrow(name);
    },
    async updateRole(actor, name, changes, ctx = NO_REQUEST) {
      const permissions =
        changes.permissions === undefined ? undefined : checkPermissions(changes.permissions);
      const current = await getRoleOrThrow(name);
      ceiling.checkPermissions(actor, [...current.permissions, ...(permissions ?? [])]);
      if (name === ADMIN_ROLE && permissions !== undefined) {
        const dropped = BUILTIN_PERMISSIONS.filter((p) => !permissions.includes(p));
        if (dropped.length > 0) {
          throw new InvalidFieldError(
            'permissions',
            `The admin role keeps every built-in permission (missing: ${dropped.join(', ')})`,
            'value_error.permission',
          );
        }
      }
      const before = current;
      const after = {
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(permissions !== undefined ? { permissions } : {}),
      };
      const found = await store.db.transaction().execute(async (trx) => {
        if (!(await updateRole(trx, name, after))) return false;
        const fields = changedFields(before, after);
        if (fields.length === 0) return true;
        await recordAuditEvent(trx, {
          event: 'role.updated',
          at: clock.now(),
          target: name,
          ...auditSource(ctx),
          details: {
            fields,
            ...(fields.includes('permissions')
              ? { permissions_before: [...before.permissions], permissions_after: permissions ?? [] }
              : {}),
          },
        });
        return true;
      });
      if (!found) throw new RoleNotFoundError();
      await reload();
      onChanged();
      return getRoleOrThrow(name);
    },
    async deleteRole(actor, name, force, ctx = NO_REQUEST) {
      const role = await getRoleOrThrow(name);
      if (role.builtin) throw new BuiltinRoleError();
      ceiling.checkPermissions(actor, role.permissions);
      const holders = await countUsersWithRole(store.db, name);
      if (holders > 0 && !force) throw new RoleInUseError(holders);
      if (holders > 0) ceiling.checkRoles(actor, await rolesOfHolders(store.db, name));
      await store.db.transaction().execute(async (trx) => {
        await deleteRole(trx, name);
        await recordAuditEvent(trx, {
          event: 'role.deleted',
          at: clock.now(),
          target: name,
          ...auditSource(ctx),
          details: { permissions: [...role.permissions], holders },
        });
      });
      await reload();
      onChanged();
    },
    reload,
  };
}
