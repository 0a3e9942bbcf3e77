/**
 * API keys for machines: `gh_<public id>_<secret>`, shown once, stored as a SHA-256 hash of the
 * secret. A request with a key acts as its owner, limited to the key's scopes, until the key
 * expires (by default after GATEHOUSE_API_KEY_TTL, never later than GATEHOUSE_API_KEY_MAX_TTL).
 */
import { randomBytes } from 'node:crypto';
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
import { findUserById } from '../store/users.ts';
import { describeDuration } from './email-links.ts';
import { ApiKeyNotFoundError, InsufficientScopeError, InvalidFieldError } from './errors.ts';
import { checkPermissions, type RoleService } from './permissions.ts';
import type { Actor } from './privilege-ceiling.ts';
import { auditSource, NO_REQUEST, type RequestContext } from './request-context.ts';
import { hashSecret, randomSecret, secretMatches } from './secrets.ts';

export type { ApiKeyRecord } from '../store/api-keys.ts';

export const API_KEY_PATTERN = /^gh_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;
/** `last_used_at` is written at most this often per key. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export interface ApiKeyExpiryOptions {
  /** Lifetime of a key created without an expiry. */
  readonly defaultTtlSeconds: number;
  /** Longest lifetime a key may ask for; null also allows keys that never expire. */
  readonly maxTtlSeconds: number | null;
}

export interface NewApiKey {
  readonly name: string;
  readonly scopes: readonly string[];
  /** Seconds from now; null: never (only when the maximum allows it). */
  readonly expiresInSeconds?: number | null;
  /** An absolute expiry (epoch ms) instead; null: never. */
  readonly expiresAt?: number | null;
}

export interface ApiKeyService {
  /**
   * Creates a key; `scopes` must be within `callerPermissions` and its lifetime within the
   * maximum (InvalidFieldError, 422). Returns the record and the key, once. Writes
   * `api_key.created`.
   */
  create(
    userId: string,
    input: NewApiKey,
    callerPermissions: ReadonlySet<string>,
    ctx?: RequestContext,
  ): Promise<{ record: ApiKeyRecord; key: string }>;
  /**
   * The live key for a presented value, or undefined (unknown, forged, expired or revoked). An
   * expired key presented with its right secret is audited (`api_key.expired_use_refused`).
   */
  authenticate(presented: string, ctx?: RequestContext): Promise<ApiKeyRecord | undefined>;
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

export function isApiKey(value: string): boolean {
  return value.startsWith('gh_');
}

/** The expiry (epoch ms, or null for never) of a new key, within the configured maximum. */
function expiryOf(input: NewApiKey, now: number, options: ApiKeyExpiryOptions): number | null {
  if (input.expiresInSeconds !== undefined && input.expiresAt !== undefined) {
    throw new InvalidFieldError(
      'expires_in',
      'Give expires_in or expires_at, not both',
      'value_error.conflict',
    );
  }
  const field = input.expiresAt !== undefined ? 'expires_at' : 'expires_in';
  const expiresAt =
    input.expiresAt !== undefined
      ? input.expiresAt
      : input.expiresInSeconds === null
        ? null
        : now + (input.expiresInSeconds ?? options.defaultTtlSeconds) * 1000;
  const max = options.maxTtlSeconds;
  if (expiresAt === null) {
    if (max === null) return null;
    throw new InvalidFieldError(
      field,
      `API keys must expire: the longest lifetime allowed is ${max} seconds (${describeDuration(max)})`,
      'value_error.api_key_ttl',
    );
  }
  if (expiresAt <= now) {
    throw new InvalidFieldError(field, `${field} must be in the future`, 'value_error.date');
  }
  if (max !== null && expiresAt - now > max * 1000) {
    throw new InvalidFieldError(
      field,
      `The longest lifetime allowed for an API key is ${max} seconds (${describeDuration(max)})`,
      'value_error.api_key_ttl',
    );
  }
  return expiresAt;
}

export function createApiKeyService(
  store: Store,
  clock: Clock,
  onError: (error: unknown) => void,
  roles: RoleService,
  expiry: ApiKeyExpiryOptions,
): ApiKeyService {
  const isOwn = (actor: Actor, ownerId: string) => actor.kind === 'user' && actor.userId === ownerId;
  /** Whether the actor may manage the keys of each owner: those the ceiling lets them change. */
  async function reachable(actor: Actor, ownerIds: Iterable<string>): Promise<Set<string>> {
    if (roles.ceiling.isUnlimited(actor)) return new Set(ownerIds);
    const allowed = new Set<string>();
    for (const ownerId of new Set(ownerIds)) {
      const owner = isOwn(actor, ownerId) ? undefined : await findUserById(store.db, ownerId);
      if (owner === undefined || roles.ceiling.mayHoldRoles(actor, owner.roles)) allowed.add(ownerId);
    }
    return allowed;
  }
  // When each expired key was last audited: a job retrying with it writes one event a minute.
  const expiredUseAudited = new Map<string, number>();
  async function auditExpiredUse(record: ApiKeyRecord, now: number, ctx: RequestContext | undefined) {
    const last = expiredUseAudited.get(record.id);
    if (last !== undefined && now - last < LAST_USED_WRITE_INTERVAL_MS) return;
    if (expiredUseAudited.size >= 10_000) expiredUseAudited.clear();
    expiredUseAudited.set(record.id, now);
    await recordAuditEvent(store.db, {
      event: 'api_key.expired_use_refused',
      at: now,
      userId: record.userId,
      target: record.id,
      ...auditSource(ctx ?? NO_REQUEST),
      details: { expired_at: new Date(record.expiresAt ?? now).toISOString() },
    }).catch(onError);
  }

  return {
    async create(userId, input, callerPermissions, ctx = NO_REQUEST) {
      const scopes = checkPermissions(input.scopes, 'scopes');
      const missing = scopes.filter((scope) => !callerPermissions.has(scope));
      if (missing.length > 0) throw new InsufficientScopeError(missing);
      const now = clock.now();
      const expiresAt = expiryOf(input, now, expiry);
      const id = randomBytes(12).toString('hex');
      const secret = randomSecret();
      const record: ApiKeyRecord = {
        id,
        userId,
        name: input.name,
        secretHash: hashSecret(secret),
        scopes,
        createdAt: now,
        expiresAt,
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

    async authenticate(presented, ctx) {
      const match = API_KEY_PATTERN.exec(presented);
      if (!match) return undefined;
      const [, id, secret] = match as unknown as [string, string, string];
      const record = await findApiKey(store.db, id);
      if (record === undefined) return undefined;
      if (!secretMatches(secret, record.secretHash)) return undefined;
      const now = clock.now();
      if (record.revokedAt !== null) return undefined;
      if (record.expiresAt !== null && record.expiresAt <= now) {
        await auditExpiredUse(record, now, ctx);
        return undefined;
      }
      if (record.lastUsedAt === null || now - record.lastUsedAt >= LAST_USED_WRITE_INTERVAL_MS) {
        // Throttled to one write per key per interval; a failed write must not fail the request.
        await recordApiKeyUse(store.db, record.id, now).catch(onError);
      }
      return record;
    },

    async list(actor, userId) {
      if (userId !== undefined && !isOwn(actor, userId)) {
        const owner = await findUserById(store.db, userId);
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
        const owner = await findUserById(store.db, key.userId);
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
