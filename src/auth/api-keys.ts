/**
 * API keys for machines: `gh_<public id>_<secret>`, shown once, stored as a SHA-256 hash of the
 * secret. A request with a key acts as its owner, limited to the key's scopes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import {
  type ApiKeyRecord,
  findApiKey,
  insertApiKey,
  listApiKeys,
  recordApiKeyUse,
  revokeApiKey,
} from '../store/api-keys.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import { createUserStore } from '../store/users.ts';
import { ApiKeyNotFoundError, InsufficientScopeError, InvalidFieldError } from './errors.ts';
import { checkPermissions, type RoleService } from './permissions.ts';
import type { Actor } from './privilege-ceiling.ts';
import { auditSource, NO_REQUEST, type RequestContext } from './request-context.ts';

export const API_KEY_PATTERN = /^gh_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;
/** `last_used_at` is written at most this often per key. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export interface ApiKeyService {
  /**
   * Creates a key; `scopes` must be within `callerPermissions`. Returns the record and the key,
   * once. Writes `api_key.created`.
   */
  create(
    userId: string,
    input: { name: string; scopes: readonly string[]; expiresAt: number | null },
    callerPermissions: ReadonlySet<string>,
    ctx?: RequestContext,
  ): Promise<{ record: ApiKeyRecord; key: string }>;
  /** The live key for a presented value, or undefined (unknown, forged, expired or revoked). */
  authenticate(presented: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Live keys of `userId` (or of everyone when undefined) that `actor` may see: their own, and
   * those of users who hold no permission the actor lacks. Asking for one such user's keys
   * throws PrivilegeEscalationError; everyone's leaves them out.
   */
  list(actor: Actor, userId: string | undefined): Promise<ApiKeyRecord[]>;
  /**
   * Revokes a key of `userId` (or of anyone when undefined); another user's only if the actor may
   * change that user (PrivilegeEscalationError otherwise). Writes `api_key.revoked`.
   */
  revoke(actor: Actor, id: string, userId: string | undefined, ctx?: RequestContext): Promise<void>;
}

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('base64url');

export function isApiKey(value: string): boolean {
  return value.startsWith('gh_');
}

export function createApiKeyService(
  store: Store,
  clock: Clock,
  onError: (error: unknown) => void,
  roles: RoleService,
): ApiKeyService {
  const users = createUserStore(store);
  const isOwn = (actor: Actor, ownerId: string) => actor.kind === 'user' && actor.userId === ownerId;
  /** Whether the actor may manage the keys of each owner: those the ceiling lets them change. */
  async function reachable(actor: Actor, ownerIds: Iterable<string>): Promise<Set<string>> {
    if (roles.ceiling.isUnlimited(actor)) return new Set(ownerIds);
    const allowed = new Set<string>();
    for (const ownerId of new Set(ownerIds)) {
      const owner = isOwn(actor, ownerId) ? undefined : await users.findById(ownerId);
      if (owner === undefined || roles.ceiling.mayHoldRoles(actor, owner.roles)) allowed.add(ownerId);
    }
    return allowed;
  }

  return {
    async create(userId, input, callerPermissions, ctx = NO_REQUEST) {
      const scopes = checkPermissions(input.scopes, 'scopes');
      const missing = scopes.filter((scope) => !callerPermissions.has(scope));
      if (missing.length > 0) throw new InsufficientScopeError(missing);
      const now = clock.now();
      if (input.expiresAt !== null && input.expiresAt <= now) {
        throw new InvalidFieldError('expires_at', 'expires_at must be in the future', 'value_error.date');
      }
      const id = randomBytes(12).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const record: ApiKeyRecord = {
        id,
        userId,
        name: input.name,
        secretHash: hashSecret(secret),
        scopes,
        createdAt: now,
        expiresAt: input.expiresAt,
        lastUsedAt: null,
        revokedAt: null,
      };
      await store.db.transaction().execute(async (trx) => {
        await insertApiKey(trx, record);
        await recordAuditEvent(trx, {
          event: 'api_key.created',
          at: now,
          userId,
          target: id,
          ...auditSource(ctx),
          details: { fields: ['expires_at', 'name', 'scopes'], scopes },
        });
      });
      return { record, key: `gh_${id}_${secret}` };
    },

    async authenticate(presented) {
      const match = API_KEY_PATTERN.exec(presented);
      if (!match) return undefined;
      const [, id, secret] = match as unknown as [string, string, string];
      const record = await findApiKey(store.db, id);
      if (record === undefined) return undefined;
      const given = Buffer.from(hashSecret(secret));
      const stored = Buffer.from(record.secretHash);
      if (given.length !== stored.length || !timingSafeEqual(given, stored)) return undefined;
      const now = clock.now();
      if (record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= now))
        return undefined;
      if (record.lastUsedAt === null || now - record.lastUsedAt >= LAST_USED_WRITE_INTERVAL_MS) {
        // Throttled to one write per key per interval; a failed write must not fail the request.
        await recordApiKeyUse(store.db, record.id, now).catch(onError);
      }
      return record;
    },

    async list(actor, userId) {
      if (userId !== undefined && !isOwn(actor, userId)) {
        const owner = await users.findById(userId);
        if (owner !== undefined) roles.ceiling.checkRoles(actor, owner.roles);
      }
      const keys = await listApiKeys(store.db, userId);
      const allowed = await reachable(
        actor,
        keys.map((key) => key.userId),
      );
      return keys.filter((key) => allowed.has(key.userId));
    },

    async revoke(actor, id, userId, ctx = NO_REQUEST) {
      const key = await findApiKey(store.db, id);
      if (key === undefined || (userId !== undefined && key.userId !== userId))
        throw new ApiKeyNotFoundError();
      if (!isOwn(actor, key.userId)) {
        const owner = await users.findById(key.userId);
        if (owner !== undefined) roles.ceiling.checkRoles(actor, owner.roles);
      }
      const now = clock.now();
      const revoked = await store.db.transaction().execute(async (trx) => {
        if (!(await revokeApiKey(trx, id, userId, now))) return false;
        await recordAuditEvent(trx, {
          event: 'api_key.revoked',
          at: now,
          userId: key.userId,
          target: id,
          ...auditSource(ctx),
        });
        return true;
      });
      if (!revoked) throw new ApiKeyNotFoundError();
    },
  };
}
