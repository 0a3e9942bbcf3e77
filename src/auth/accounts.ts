/** Accounts: registration, password login, lookups and admin changes. No HTTP, no SQL. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import { revokeSessions } from '../store/sessions.ts';
import { listUsers } from '../store/user-lists.ts';
import {
  findUserById,
  findUserByLogin,
  findUserByUsername,
  findUserConflict,
  insertUser,
  listRoleNames,
  setPasswordHash,
  setUserDisabled,
  setUserRoles,
  type UserRecord,
} from '../store/users.ts';
import {
  EmailNotVerifiedError,
  EmailTakenError,
  InactiveUserError,
  InvalidCredentialsError,
  InvalidFieldError,
  OverloadedError,
  UserNotFoundError,
  UsernameTakenError,
} from './errors.ts';
import { checkPasswordPolicy, type PasswordHasher } from './passwords.ts';
import { auditSource, NO_REQUEST, type RequestContext } from './request-context.ts';
import type { RevocationState } from './revocation.ts';
import type { UserCache } from './user-cache.ts';

export const DEFAULT_ROLE = 'user';
const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
// Deliberately simple (WHATWG's input[type=email] shape); deliverability is proven by mail, not regex.
const EMAIL_PATTERN =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export interface PublicUser {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly full_name: string | null;
  readonly disabled: boolean;
  readonly email_verified: boolean;
  /** A copy: changing it changes no cached user. */
  readonly roles: string[];
  readonly created_at: string;
}

export function toPublicUser(user: UserRecord): PublicUser {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    full_name: user.fullName,
    disabled: user.disabled,
    email_verified: user.emailVerified,
    roles: [...user.roles],
    created_at: new Date(user.createdAt).toISOString(),
  };
}

/** NFKC-normalises and validates; returns the display form and the unique (lower-cased) key. */
export function normalizeUsername(raw: string): { display: string; key: string } {
  const display = raw.normalize('NFKC');
  if (!USERNAME_PATTERN.test(display)) {
    throw new InvalidFieldError(
      'username',
      'Username must be 3 to 32 characters of letters, digits, "_", "." or "-"',
      'value_error.username',
    );
  }
  return { display, key: display.toLowerCase() };
}

export function normalizeEmail(raw: string): { display: string; key: string } {
  const display = raw.normalize('NFKC').trim();
  if (display.length > 254 || !EMAIL_PATTERN.test(display)) {
    throw new InvalidFieldError('email', 'value is not a valid email address', 'value_error.email');
  }
  return { display, key: display.toLowerCase() };
}

/** The lookup key for a login name that may be a username or an email. */
export function loginKey(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase();
}

export interface RegisterInput {
  readonly username: string;
  readonly email: string;
  readonly fullName?: string | null;
  readonly password: string | null;
  readonly roles?: readonly string[];
  /** The account is created by a link sent to this address, which proves it. */
  readonly emailVerified?: boolean;
}

export interface AccountServiceOptions {
  readonly passwordMinLength: number;
  /** Refuse login (after the password is checked) until the address is verified. */
  readonly requireVerifiedEmail?: boolean;
}

/** How an account came to be, for its `user.created` event. */
export type SignUpMethod = 'register' | 'admin' | 'magic_link' | 'cli' | 'bootstrap' | 'external';

export interface AccountService {
  /**
   * Creates a user with `input.roles` (default `user`), as self-registration or the host app's own
   * code does: no privilege ceiling. For a user creating users, `userAdmin.create(actor, …)`.
   * Writes `user.created`; `method` defaults to `admin` when `ctx` names a signed-in actor, else
   * `register`. A self-registration (`register`) with an unverified address queues the
   * verification mail, as `POST /register` does; a failure to queue it never fails the
   * registration (the person can ask for another link).
   */
  register(input: RegisterInput, ctx?: RequestContext, method?: SignUpMethod): Promise<UserRecord>;
  /**
   * Checks the password of `user`, the account `findByLogin` found for the login typed (undefined:
   * none, and a dummy hash keeps the timing); throws InvalidCredentialsError or InactiveUserError.
   */
  authenticate(user: UserRecord | undefined, password: string): Promise<UserRecord>;
  findUser(id: string): Promise<UserRecord | undefined>;
  /**
   * The user for an authenticated request: may come from the per-process cache (at most about a
   * second old), but never from before a change made through `usersChanged`.
   */
  findUserForRequest(id: string): Promise<UserRecord | undefined>;
  /**
   * Call after every committed write to users or their roles made outside this service: forgets
   * them in this process's cache and, with Redis, in every other process.
   */
  usersChanged(ids: readonly string[]): void;
  getUserOrThrow(id: string): Promise<UserRecord>;
  findByUsername(username: string): Promise<UserRecord | undefined>;
  /** By username or email, as typed at login. */
  findByLogin(login: string): Promise<UserRecord | undefined>;
  /**
   * Disabling also revokes every session of the user. The host app's own raw change: no
   * privilege ceiling and no last-admin rule. To act for a user (or as the CLI does), use
   * `userAdmin.update(actor, …)`.
   */
  setDisabled(id: string, disabled: boolean, ctx?: RequestContext): Promise<void>;
  /**
   * The host app's own raw change, like `setDisabled`: prefer `userAdmin.update(actor, …)`.
   * Writes `role.changed` (before and after) when the roles differ.
   */
  setRoles(id: string, roles: readonly string[], ctx?: RequestContext): Promise<void>;
  listUsers(limit: number, offset: number): Promise<UserRecord[]>;
}

/**
 * Disables (revoking every session) or enables a user, with its audit event, inside `trx`.
 * Returns the revoked session ids, or undefined when no user has that id. The caller marks them
 * revoked in memory once the transaction has committed.
 */
export async function writeDisabled(
  trx: Kysely<Database>,
  id: string,
  disabled: boolean,
  now: number,
  ctx: RequestContext,
  /** Who made the change, for the audit event: a user id, or the operator's name. */
  by?: string,
): Promise<string[] | undefined> {
  if (!(await setUserDisabled(trx, id, disabled, now))) return undefined;
  const ids = disabled ? await revokeSessions(trx, { userId: id }, now, 'user disabled') : [];
  await recordAuditEvent(trx, {
    event: disabled ? 'user.disabled' : 'user.enabled',
    at: now,
    userId: id,
    ...auditSource(ctx),
    details: { fields: ['disabled'], sessions_revoked: ids.length, ...(by !== undefined ? { by } : {}) },
  });
  return ids;
}

/** Role names as the audit log records them: each once, sorted. */
export const roleList = (roles: readonly string[]): string[] => [...new Set(roles)].sort();

/** Writes `role.changed` with the roles before and after, when they differ. */
export async function auditRolesChanged(
  trx: Kysely<Database>,
  userId: string,
  before: readonly string[],
  after: readonly string[],
  now: number,
  ctx: RequestContext,
): Promise<void> {
  const [was, becomes] = [roleList(before), roleList(after)];
  if (was.join() === becomes.join()) return;
  await recordAuditEvent(trx, {
    event: 'role.changed',
    at: now,
    userId,
    ...auditSource(ctx),
    details: { fields: ['roles'], before: was, after: becomes },
  });
}

export function createAccountService(deps: {
  store: Store;
  hasher: PasswordHasher;
  revocation: RevocationState;
  userCache: UserCache;
  clock: Clock;
  options: AccountServiceOptions;
  /** Queues the verification mail of a self-registered user. */
  sendVerification?: (user: UserRecord) => Promise<void>;
  /** Errors of work that must not fail the call (the verification mail). */
  onBackgroundError?: (error: unknown) => void;
}): AccountService {
  const { store, hasher, revocation, userCache, clock, options } = deps;
  const { db } = store;
  const loadUser = (id: string) => findUserById(db, id);
  async function getUserOrThrow(id: string): Promise<UserRecord> {
    const user = await findUserById(db, id);
    if (user === undefined) throw new UserNotFoundError();
    return user;
  }

  return {
    async register(input, ctx = NO_REQUEST, method) {
      const username = normalizeUsername(input.username);
      const email = normalizeEmail(input.email);
      const named = { username: username.display, email: email.display };
      if (input.password !== null) checkPasswordPolicy(input.password, options.passwordMinLength, named);
      const roles = input.roles === undefined ? [DEFAULT_ROLE] : [...new Set(input.roles)];
      if (input.roles !== undefined) {
        const catalogue = new Set(await listRoleNames(db));
        const unknown = roles.filter((role) => !catalogue.has(role));
        if (unknown.length > 0) {
          throw new InvalidFieldError('roles', `Unknown role: ${unknown.join(', ')}`, 'value_error.role');
        }
      }
      const known = await findUserConflict(db, username.key, email.key);
      if (known === 'username') throw new UsernameTakenError();
      if (known === 'email') throw new EmailTakenError();
      const passwordHash = input.password === null ? null : await hasher.hash(input.password);
      const id = randomUUID();
      const now = clock.now();
      const fullName = input.fullName?.normalize('NFKC') ?? null;
      const had: Record<string, unknown> = { full_name: fullName, password: passwordHash };
      const signUpMethod = method ?? (ctx.actorId ? 'admin' : 'register');
      try {
        await store.db.transaction().execute(async (trx) => {
          await insertUser(trx, {
            id,
            username: username.display,
            usernameNormalized: username.key,
            email: email.display,
            emailNormalized: email.key,
            fullName,
            passwordHash,
            roles,
            createdAt: now,
            ...(input.emailVerified ? { emailVerifiedAt: now } : {}),
          });
          await recordAuditEvent(trx, {
            event: 'user.created',
            at: now,
            userId: id,
            ...auditSource(ctx),
            details: {
              fields: ['email', 'full_name', 'password', 'roles', 'username'].filter((f) => had[f] !== null),
              roles: roleList(roles),
              method: signUpMethod,
            },
          });
        });
      } catch (error) {
        // A concurrent registration won the unique index; say which value it took.
        const conflict = await findUserConflict(db, username.key, email.key);
        if (conflict === 'username') throw new UsernameTakenError();
        if (conflict === 'email') throw new EmailTakenError();
        throw error;
      }
      const user = await getUserOrThrow(id);
      const mustVerify = signUpMethod === 'external' && options.requireVerifiedEmail && !user.emailVerified;
      if ((signUpMethod === 'register' || mustVerify) && deps.sendVerification !== undefined) {
        try {
          await deps.sendVerification(user);
        } catch (error) {
          deps.onBackgroundError?.(error);
        }
      }
      return user;
    },

    async authenticate(user, password) {
      if (user === undefined) {
        await hasher.verifyDummy(password);
        throw new InvalidCredentialsError();
      }
      if (!(await hasher.verify(user.passwordHash, password))) throw new InvalidCredentialsError();
      if (user.disabled) throw new InactiveUserError();
      if (options.requireVerifiedEmail && !user.emailVerified) throw new EmailNotVerifiedError();
      if (user.passwordHash !== null && hasher.needsRehash(user.passwordHash)) {
        try {
          await setPasswordHash(db, user.id, await hasher.hash(password), clock.now());
          userCache.usersChanged([user.id]);
        } catch (error) {
          // The password was right; an overloaded hasher only postpones the upgrade to next login.
          if (!(error instanceof OverloadedError)) throw error;
        }
      }
      return user;
    },

    findUser: (id) => findUserById(db, id),
    findUserForRequest: (id) => userCache.get(id, loadUser),
    usersChanged: (ids) => userCache.usersChanged(ids),
    getUserOrThrow,
    findByUsername: (username) => findUserByUsername(db, loginKey(username)),
    findByLogin: (login) => findUserByLogin(db, loginKey(login)),

    async setDisabled(id, disabled, ctx = NO_REQUEST) {
      const now = clock.now();
      const revoked = await store.db
        .transaction()
        .execute((trx) => writeDisabled(trx, id, disabled, now, ctx));
      if (revoked === undefined) throw new UserNotFoundError();
      userCache.usersChanged([id]);
      revocation.markSessionsRevoked(revoked, now);
    },

    async setRoles(id, roles, ctx = NO_REQUEST) {
      const before = (await getUserOrThrow(id)).roles;
      const now = clock.now();
      const done = await store.db.transaction().execute(async (trx) => {
        if (!(await setUserRoles(trx, id, roles))) return false;
        await auditRolesChanged(trx, id, before, roles, now, ctx);
        return true;
      });
      if (!done) {
        const known = new Set(await listRoleNames(db));
        const unknown = roles.filter((role) => !known.has(role));
        throw new InvalidFieldError('roles', `Unknown role: ${unknown.join(', ')}`, 'value_error.role');
      }
      userCache.usersChanged([id]);
    },

    listUsers: (limit, offset) => listUsers(db, limit, offset),
  };
}
