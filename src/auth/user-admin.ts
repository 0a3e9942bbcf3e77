/**
 * Administration of users: listing with filters and pagination, changes and deletion, always
 * keeping one working admin (no admin can lock themselves out, and the last one cannot go).
 */
import type { Clock } from '../clock.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import { revokeSessions } from '../store/sessions.ts';
import { createUserStore, type UserFilter, type UserRecord, type UserStore } from '../store/users.ts';
import { type AccountService, auditRolesChanged, normalizeEmail, writeDisabled } from './accounts.ts';
import { EmailTakenError, InvalidFieldError, LastAdminError, UserNotFoundError } from './errors.ts';
import { decodeCursor, encodeCursor } from './page-cursor.ts';
import { ADMIN_ROLE } from './permissions.ts';
import { auditSource, NO_REQUEST, type RequestContext } from './request-context.ts';
import type { RevocationState } from './revocation.ts';

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
   * Writes one audit event per kind of change that changed something: `user.updated` (profile
   * fields), `role.changed` (roles before and after), `user.disabled` or `user.enabled`.
   */
  update(actorId: string, id: string, changes: UserChanges, ctx?: RequestContext): Promise<UserRecord>;
  delete(actorId: string, id: string, ctx?: RequestContext): Promise<void>;
}

export function createUserAdminService(deps: {
  users: UserStore;
  accounts: AccountService;
  store: Store;
  revocation: RevocationState;
  clock: Clock;
}): UserAdminService {
  const { users, accounts, store, revocation, clock } = deps;

  /**
   * Refuses a change that would leave no enabled admin. Runs inside the change's transaction,
   * under the `admins` lock: two admins demoting each other at once would otherwise both count
   * two admins and both succeed.
   */
  async function keepAnAdmin(scoped: UserStore, id: string, losesAdmin: boolean): Promise<void> {
    if (!losesAdmin) return;
    const target = await scoped.findById(id);
    if (target === undefined || !target.roles.includes(ADMIN_ROLE) || target.disabled) return;
    if ((await scoped.countEnabledWithRole(ADMIN_ROLE)) <= 1) {
      throw new LastAdminError('This is the last enabled admin; make another admin first');
    }
  }

  return {
    async list(filter, page) {
      const position = page.cursor !== undefined ? decodeCursor(page.cursor) : undefined;
      const after = position && { createdAt: position.at, id: position.id };
      const rows = await users.search(filter, {
        limit: page.limit + 1,
        ...(after ? { after } : { offset: page.skip ?? 0 }),
      });
      const items = rows.slice(0, page.limit);
      const last = items.at(-1);
      const nextCursor =
        rows.length > page.limit && last !== undefined
          ? encodeCursor({ at: last.createdAt, id: last.id })
          : null;
      const total = after === undefined ? await users.countMatching(filter) : null;
      return { items, nextCursor, total };
    },

    async update(actorId, id, changes, ctx = NO_REQUEST) {
      const audit = { ...ctx, actorId };
      const target = await accounts.getUserOrThrow(id);
      const removesAdmin = changes.roles !== undefined && !changes.roles.includes(ADMIN_ROLE);
      if (
        actorId === id &&
        (changes.disabled === true || (removesAdmin && target.roles.includes(ADMIN_ROLE)))
      ) {
        throw new LastAdminError('You cannot disable yourself or remove your own admin role');
      }
      const given = changes.email !== undefined ? normalizeEmail(changes.email) : undefined;
      // The same address again changes nothing (and keeps its verification).
      const email = given !== undefined && given.display !== target.email ? given : undefined;
      const fullName =
        changes.fullName === undefined ? undefined : (changes.fullName?.normalize('NFKC') ?? null);
      const profileFields = [
        ...(email !== undefined ? ['email'] : []),
        ...(fullName !== undefined && fullName !== target.fullName ? ['full_name'] : []),
      ];
      const now = clock.now();
      // Profile, roles and `disabled` change together or not at all.
      const revoked = await store.exclusiveTransaction('admins', async (trx) => {
        const scoped = createUserStore({ ...store, db: trx });
        await keepAnAdmin(scoped, id, changes.disabled === true || removesAdmin);
        if (fullName !== undefined || email !== undefined) {
          try {
            await scoped.updateProfile(
              id,
              { ...(fullName !== undefined ? { fullName } : {}), ...(email ? { email } : {}) },
              now,
            );
          } catch (error) {
            if (store.isUniqueViolation(error)) throw new EmailTakenError();
            throw error;
          }
        }
        if (profileFields.length > 0) {
          await recordAuditEvent(trx, {
            event: 'user.updated',
            at: now,
            userId: id,
            ...auditSource(audit),
            details: { fields: profileFields },
          });
        }
        if (changes.roles !== undefined && !(await scoped.setRoles(id, changes.roles))) {
          const known = new Set(await scoped.roleNames());
          const unknown = changes.roles.filter((role) => !known.has(role));
          if (unknown.length === 0) throw new UserNotFoundError();
          throw new InvalidFieldError('roles', `Unknown role: ${unknown.join(', ')}`, 'value_error.role');
        }
        if (changes.roles !== undefined) {
          await auditRolesChanged(trx, id, target.roles, changes.roles, now, audit);
        }
        if (changes.disabled !== undefined && changes.disabled !== target.disabled) {
          const ids = await writeDisabled(trx, id, changes.disabled, now, audit);
          if (ids === undefined) throw new UserNotFoundError();
          return ids;
        }
        return [];
      });
      accounts.usersChanged([id]);
      if (revoked.length > 0) revocation.markSessionsRevoked(revoked, now);
      return accounts.getUserOrThrow(id);
    },

    async delete(actorId, id, ctx = NO_REQUEST) {
      if (actorId === id) throw new LastAdminError('You cannot delete yourself');
      const target = await users.findById(id);
      if (target === undefined) throw new UserNotFoundError();
      const now = clock.now();
      // Sessions, refresh tokens, roles and API keys go with the row (ON DELETE CASCADE); the
      // revoked set learns of the sessions first so no access token outlives the user's row.
      const revoked = await store.exclusiveTransaction('admins', async (trx) => {
        await keepAnAdmin(createUserStore({ ...store, db: trx }), id, true);
        const ids = await revokeSessions(trx, { userId: id }, now, 'user deleted');
        await trx.deleteFrom('users').where('id', '=', id).execute();
        await recordAuditEvent(trx, {
          event: 'user.deleted',
          at: now,
          userId: id,
          ...auditSource({ ...ctx, actorId }),
          details: { sessions_revoked: ids.length },
        });
        return ids;
      });
      accounts.usersChanged([id]);
      revocation.markSessionsRevoked(revoked, now);
    },
  };
}
