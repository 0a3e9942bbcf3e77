/**
 * Administration of users: listing with filters and pagination, changes and deletion, always
 * keeping one working admin (no admin can lock themselves out, and the last one cannot go).
 */

import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import { revokeSessions } from '../store/sessions.ts';
import {
  countEnabledUsersWithRole,
  countUsersMatching,
  searchUsers,
  type UserFilter,
} from '../store/user-lists.ts';
import {
  deleteUser,
  findUserById,
  listRoleNames,
  setUserRoles,
  type UserRecord,
  updateUserProfile,
} from '../store/users.ts';
import {
  type AccountService,
  auditRolesChanged,
  DEFAULT_ROLE,
  normalizeEmail,
  type RegisterInput,
  writeDisabled,
} from './accounts.ts';
import { EmailTakenError, InvalidFieldError, LastAdminError, UserNotFoundError } from './errors.ts';
import { decodeCursor, encodeCursor } from './page-cursor.ts';
import { ADMIN_ROLE, type RoleService } from './permissions.ts';
import type { Actor } from './privilege-ceiling.ts';
import { auditSource, NO_REQUEST, type RequestContext } from './request-context.ts';
import type { RevocationState } from './revocation.ts';
import type { SessionService } from './sessions.ts';

export interface UserPage {
  readonly items: UserRecord[];
  readonly nextCursor: string | null;
  /** Only for offset pagination, where a page count is wanted; null with a cursor. */
  readonly total: number | null;
}

export interface UserChanges {
  readonly fullName?: string | null;
  readonly email?: string;
  readonly disabled?: boolean;
  readonly roles?: readonly string[];
}

export interface UserAdminService {
  list(filter: UserFilter, page: { limit: number; skip?: number; cursor?: string }): Promise<UserPage>;
  /**
   * Creates a user with `input.roles` (default: the `user` role). The actor must hold every
   * permission those roles grant (PrivilegeEscalationError otherwise).
   */
  create(actor: Actor, input: RegisterInput, ctx?: RequestContext): Promise<UserRecord>;
  /**
   * Changes a user. The actor must hold every permission the user holds now and, for `roles`,
   * every permission of the new roles; the last enabled admin stays, and no one disables
   * themselves or drops their own admin role. Writes one audit event per kind of change that
   * changed something: `user.updated` (profile fields), `role.changed` (roles before and after),
   * `user.disabled` or `user.enabled`.
   */
  update(actor: Actor, id: string, changes: UserChanges, ctx?: RequestContext): Promise<UserRecord>;
  /** A user changing their own profile (`PATCH /users/me`): nothing is granted, so no ceiling. */
  updateOwnProfile(
    userId: string,
    changes: { fullName: string | null },
    ctx?: RequestContext,
  ): Promise<UserRecord>;
  /** Deletes a user the actor may change (see `update`), keeping the last enabled admin. */
  delete(actor: Actor, id: string, ctx?: RequestContext): Promise<void>;
  /** Revokes every session of a user the actor may change (see `update`). */
  revokeSessions(actor: Actor, id: string, ctx: RequestContext): Promise<void>;
}

export function createUserAdminService(deps: {
  accounts: AccountService;
  roles: RoleService;
  sessions: SessionService;
  store: Store;
  revocation: RevocationState;
  clock: Clock;
}): UserAdminService {
  const { accounts, roles, sessions, store, revocation, clock } = deps;
  const { ceiling } = roles;
  const isSelf = (actor: Actor, id: string) => actor.kind === 'user' && actor.userId === id;

  /**
   * Refuses a change that would leave no enabled admin. Runs inside the change's transaction,
   * under the `admins` lock: two admins demoting each other at once would otherwise both count
   * two admins and both succeed.
   */
  /** The audit context names the acting user when the caller's context does not. */
  function withActor(actor: Actor, ctx: RequestContext): RequestContext {
    return actor.kind === 'user' && !ctx.actorId ? { ...ctx, actorId: actor.userId } : ctx;
  }

  async function keepAnAdmin(trx: Kysely<Database>, target: UserRecord, losesAdmin: boolean): Promise<void> {
    if (!losesAdmin || !target.roles.includes(ADMIN_ROLE) || target.disabled) return;
    if ((await countEnabledUsersWithRole(trx, ADMIN_ROLE)) <= 1) {
      throw new LastAdminError('This is the last enabled admin; make another admin first');
    }
  }

  async function checkRolesExist(trx: Kysely<Database>, wanted: readonly string[]): Promise<void> {
    const known = new Set(await listRoleNames(trx));
    const unknown = wanted.filter((role) => !known.has(role));
    if (unknown.length > 0) {
      throw new InvalidFieldError('roles', `Unknown role: ${unknown.join(', ')}`, 'value_error.role');
    }
  }

  /**
   * The user as read inside the change's transaction, once the actor may change them: the actor
   * holds every permission the user holds (a user changing their own profile grants nothing).
   */
  async function targetFor(trx: Kysely<Database>, actor: Actor | 'self', id: string): Promise<UserRecord> {
    const target = await findUserById(trx, id);
    if (target === undefined) throw new UserNotFoundError();
    if (actor !== 'self') ceiling.checkRoles(actor, target.roles);
    return target;
  }

  async function apply(
    actor: Actor | 'self',
    id: string,
    changes: UserChanges,
    requestCtx: RequestContext,
  ): Promise<UserRecord> {
    const ctx = withActor(
      actor === 'self' ? { kind: 'user', userId: id, permissions: new Set() } : actor,
      requestCtx,
    );
    const given = changes.email !== undefined ? normalizeEmail(changes.email) : undefined;
    const fullName =
      changes.fullName === undefined ? undefined : (changes.fullName?.normalize('NFKC') ?? null);
    const now = clock.now();
    // Profile, roles and `disabled` change together or not at all. Only a change of roles or of
    // `disabled` can leave no enabled admin: it alone waits for the `admins` lock (a name or an
    // address changes in a plain transaction).
    const inTransaction: typeof store.exclusiveTransaction =
      changes.roles !== undefined || changes.disabled !== undefined
        ? store.exclusiveTransaction
        : (_name, work) => store.db.transaction().execute(work);
    const revoked = await inTransaction('admins', async (trx) => {
      const target = await targetFor(trx, actor, id);
      if (changes.roles !== undefined) await checkRolesExist(trx, changes.roles);
      const removesAdmin =
        changes.roles !== undefined &&
        !changes.roles.includes(ADMIN_ROLE) &&
        target.roles.includes(ADMIN_ROLE);
      if ((actor === 'self' || isSelf(actor, id)) && (changes.disabled === true || removesAdmin)) {
        throw new LastAdminError('You cannot disable yourself or remove your own admin role');
      }
      await keepAnAdmin(trx, target, changes.disabled === true || removesAdmin);
      // The same address again changes nothing (and keeps its verification).
      const email = given !== undefined && given.display !== target.email ? given : undefined;
      const fields = [
        ...(email !== undefined ? ['email'] : []),
        ...(fullName !== undefined && fullName !== target.fullName ? ['full_name'] : []),
      ];
      if (fullName !== undefined || email !== undefined) {
        try {
          await updateUserProfile(
            trx,
            id,
            { ...(fullName !== undefined ? { fullName } : {}), ...(email ? { email } : {}) },
            now,
          );
        } catch (error) {
          if (store.isUniqueViolation(error)) throw new EmailTakenError();
          throw error;
        }
      }
      if (fields.length > 0) {
        await recordAuditEvent(trx, {
          event: 'user.updated',
          at: now,
          userId: id,
          ...auditSource(ctx),
          details: { fields },
        });
      }
      if (changes.roles !== undefined) {
        if (!(await setUserRoles(trx, id, changes.roles))) throw new UserNotFoundError();
        await auditRolesChanged(trx, id, target.roles, changes.roles, now, ctx);
      }
      if (changes.disabled !== undefined && changes.disabled !== target.disabled) {
        const ids = await writeDisabled(trx, id, changes.disabled, now, ctx);
        if (ids === undefined) throw new UserNotFoundError();
        return ids;
      }
      return [];
    });
    accounts.usersChanged([id]);
    if (revoked.length > 0) revocation.markSessionsRevoked(revoked, now);
    return accounts.getUserOrThrow(id);
  }

  return {
    async list(filter, page) {
      const position = page.cursor !== undefined ? decodeCursor(page.cursor) : undefined;
      const after = position && { createdAt: position.at, id: position.id };
      const rows = await searchUsers(store.db, filter, {
        limit: page.limit + 1,
        ...(after ? { after } : { offset: page.skip ?? 0 }),
      });
      const items = rows.slice(0, page.limit);
      const last = items.at(-1);
      const nextCursor =
        rows.length > page.limit && last !== undefined
          ? encodeCursor({ at: last.createdAt, id: last.id })
          : null;
      const total = after === undefined ? await countUsersMatching(store.db, filter) : null;
      return { items, nextCursor, total };
    },

    async create(actor, input, ctx = NO_REQUEST) {
      ceiling.checkRoles(actor, input.roles ?? [DEFAULT_ROLE]);
      return accounts.register(input, ctx, 'admin');
    },

    async update(actor, id, changes, ctx = NO_REQUEST) {
      if (changes.roles !== undefined) ceiling.checkRoles(actor, changes.roles);
      return apply(actor, id, changes, ctx);
    },

    updateOwnProfile: (userId, changes, ctx = NO_REQUEST) =>
      apply('self', userId, { fullName: changes.fullName }, ctx),

    async delete(actor, id, ctx = NO_REQUEST) {
      if (isSelf(actor, id)) throw new LastAdminError('You cannot delete yourself');
      const now = clock.now();
      // Sessions, refresh tokens, roles and API keys go with the row (ON DELETE CASCADE); the
      // revoked set learns of the sessions first so no access token outlives the user's row.
      const revoked = await store.exclusiveTransaction('admins', async (trx) => {
        await keepAnAdmin(trx, await targetFor(trx, actor, id), true);
        const ids = await revokeSessions(trx, { userId: id }, now, 'user deleted');
        await deleteUser(trx, id);
        await recordAuditEvent(trx, {
          event: 'user.deleted',
          at: now,
          userId: id,
          ...auditSource(withActor(actor, ctx)),
          details: { sessions_revoked: ids.length },
        });
        return ids;
      });
      accounts.usersChanged([id]);
      revocation.markSessionsRevoked(revoked, now);
    },

    async revokeSessions(actor, id, ctx) {
      const target = await accounts.getUserOrThrow(id);
      ceiling.checkRoles(actor, target.roles);
      await sessions.revokeAllSessions(target.id, ctx);
    },
  };
}
