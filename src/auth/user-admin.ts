/**
 * Administration of users: listing with filters and pagination, changes and deletion, always
 * keeping one working admin (no admin can lock themselves out, and the last one cannot go).
 */
import type { Clock } from '../clock.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import { revokeSessions } from '../store/sessions.ts';
import { createUserStore, type UserFilter, type UserRecord, type UserStore } from '../store/users.ts';
import {
  type AccountService,
  DEFAULT_ROLE,
  normalizeEmail,
  type RegisterInput,
  writeDisabled,
} from './accounts.ts';
import { EmailTakenError, InvalidFieldError, LastAdminError, UserNotFoundError } from './errors.ts';
import { ADMIN_ROLE, type RoleService } from './permissions.ts';
import { type Actor, actorName } from './privilege-ceiling.ts';
import type { RevocationState } from './revocation.ts';
import type { RequestContext, SessionService } from './sessions.ts';

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
  create(actor: Actor, input: RegisterInput): Promise<UserRecord>;
  /**
   * Changes a user. The actor must hold every permission the user holds now and, for `roles`,
   * every permission of the new roles; the last enabled admin stays, and no one disables
   * themselves or drops their own admin role.
   */
  update(actor: Actor, id: string, changes: UserChanges): Promise<UserRecord>;
  /** A user changing their own profile (`PATCH /users/me`): nothing is granted, so no ceiling. */
  updateOwnProfile(userId: string, changes: { fullName: string | null }): Promise<UserRecord>;
  /** Deletes a user the actor may change (see `update`), keeping the last enabled admin. */
  delete(actor: Actor, id: string): Promise<void>;
  /** Revokes every session of a user the actor may change (see `update`). */
  revokeSessions(actor: Actor, id: string, ctx: RequestContext): Promise<void>;
}

function encodeCursor(user: UserRecord): string {
  return Buffer.from(JSON.stringify([user.createdAt, user.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // falls through to the error below
  }
  throw new InvalidFieldError('cursor', 'Invalid cursor', 'value_error.cursor');
}

export function createUserAdminService(deps: {
  users: UserStore;
  accounts: AccountService;
  roles: RoleService;
  sessions: SessionService;
  store: Store;
  revocation: RevocationState;
  clock: Clock;
}): UserAdminService {
  const { users, accounts, roles, sessions, store, revocation, clock } = deps;
  const { ceiling } = roles;
  const isSelf = (actor: Actor, id: string) => actor.kind === 'user' && actor.userId === id;

  /**
   * Refuses a change that would leave no enabled admin. Runs inside the change's transaction,
   * under the `admins` lock: two admins demoting each other at once would otherwise both count
   * two admins and both succeed.
   */
  async function keepAnAdmin(scoped: UserStore, target: UserRecord, losesAdmin: boolean): Promise<void> {
    if (!losesAdmin || !target.roles.includes(ADMIN_ROLE) || target.disabled) return;
    if ((await scoped.countEnabledWithRole(ADMIN_ROLE)) <= 1) {
      throw new LastAdminError('This is the last enabled admin; make another admin first');
    }
  }

  async function checkRolesExist(scoped: UserStore, wanted: readonly string[]): Promise<void> {
    const known = new Set(await scoped.roleNames());
    const unknown = wanted.filter((role) => !known.has(role));
    if (unknown.length > 0) {
      throw new InvalidFieldError('roles', `Unknown role: ${unknown.join(', ')}`, 'value_error.role');
    }
  }

  /**
   * The user as read inside the change's transaction, once the actor may change them: the actor
   * holds every permission the user holds (a user changing their own profile grants nothing).
   */
  async function targetFor(scoped: UserStore, actor: Actor | 'self', id: string): Promise<UserRecord> {
    const target = await scoped.findById(id);
    if (target === undefined) throw new UserNotFoundError();
    if (actor !== 'self') ceiling.checkRoles(actor, target.roles);
    return target;
  }

  async function apply(actor: Actor | 'self', id: string, changes: UserChanges): Promise<UserRecord> {
    const email = changes.email !== undefined ? normalizeEmail(changes.email) : undefined;
    const now = clock.now();
    const by = actor === 'self' ? id : actorName(actor);
    // Profile, roles and `disabled` change together or not at all.
    const revoked = await store.exclusiveTransaction('admins', async (trx) => {
      const scoped = createUserStore({ ...store, db: trx });
      const target = await targetFor(scoped, actor, id);
      if (changes.roles !== undefined) await checkRolesExist(scoped, changes.roles);
      const removesAdmin =
        changes.roles !== undefined &&
        !changes.roles.includes(ADMIN_ROLE) &&
        target.roles.includes(ADMIN_ROLE);
      if ((actor === 'self' || isSelf(actor, id)) && (changes.disabled === true || removesAdmin)) {
        throw new LastAdminError('You cannot disable yourself or remove your own admin role');
      }
      await keepAnAdmin(scoped, target, changes.disabled === true || removesAdmin);
      const fields = [
        ...(changes.fullName !== undefined ? ['full_name'] : []),
        ...(email !== undefined ? ['email'] : []),
      ];
      if (fields.length > 0) {
        try {
          await scoped.updateProfile(
            id,
            {
              ...(changes.fullName !== undefined
                ? { fullName: changes.fullName?.normalize('NFKC') ?? null }
                : {}),
              ...(email ? { email } : {}),
            },
            now,
          );
        } catch (error) {
          if (store.isUniqueViolation(error)) throw new EmailTakenError();
          throw error;
        }
        await recordAuditEvent(trx, {
          event: 'user.updated',
          at: now,
          userId: id,
          details: { fields: fields.join(','), by },
        });
      }
      if (changes.roles !== undefined) {
        if (!(await scoped.setRoles(id, changes.roles))) {
          await checkRolesExist(scoped, changes.roles);
          throw new UserNotFoundError();
        }
        await recordAuditEvent(trx, {
          event: 'role.changed',
          at: now,
          userId: id,
          details: {
            before: target.roles.join(','),
            after: [...new Set(changes.roles)].sort().join(','),
            by,
          },
        });
      }
      if (changes.disabled !== undefined && changes.disabled !== target.disabled) {
        const ids = await writeDisabled(trx, id, changes.disabled, now, by);
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
      const after = page.cursor !== undefined ? decodeCursor(page.cursor) : undefined;
      const rows = await users.search(filter, {
        limit: page.limit + 1,
        ...(after ? { after } : { offset: page.skip ?? 0 }),
      });
      const items = rows.slice(0, page.limit);
      const last = items.at(-1);
      const nextCursor = rows.length > page.limit && last !== undefined ? encodeCursor(last) : null;
      const total = after === undefined ? await users.countMatching(filter) : null;
      return { items, nextCursor, total };
    },

    async create(actor, input) {
      ceiling.checkRoles(actor, input.roles ?? [DEFAULT_ROLE]);
      return accounts.register(input);
    },

    async update(actor, id, changes) {
      if (changes.roles !== undefined) ceiling.checkRoles(actor, changes.roles);
      return apply(actor, id, changes);
    },

    updateOwnProfile: (userId, changes) => apply('self', userId, { fullName: changes.fullName }),

    async delete(actor, id) {
      if (isSelf(actor, id)) throw new LastAdminError('You cannot delete yourself');
      const now = clock.now();
      // Sessions, refresh tokens, roles and API keys go with the row (ON DELETE CASCADE); the
      // revoked set learns of the sessions first so no access token outlives the user's row.
      const revoked = await store.exclusiveTransaction('admins', async (trx) => {
        const scoped = createUserStore({ ...store, db: trx });
        await keepAnAdmin(scoped, await targetFor(scoped, actor, id), true);
        const ids = await revokeSessions(trx, { userId: id }, now, 'user deleted');
        await trx.deleteFrom('users').where('id', '=', id).execute();
        await recordAuditEvent(trx, {
          event: 'user.deleted',
          at: now,
          userId: id,
          details: { by: actorName(actor) },
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
