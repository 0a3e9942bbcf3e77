/**
 * The user behind each authenticated request, remembered briefly per process so that a request
 * with a valid token costs no database round trip. The store stays the source of truth: every
 * change made through Gatehouse forgets the user here at once and, through the Redis link, in
 * every other process; the short maximum age only bounds what an unnoticed change could leave.
 *
 * While the link is unhealthy another process's change may go unheard, so the cache is bypassed
 * and every request reads the store (never laxer with Redis down, as for revocation).
 */
import type { UserRecord } from '../store/users.ts';

/** Long enough that a busy user costs one query a second, short enough to bound a missed event. */
export const USER_CACHE_MAX_AGE_MS = 1000;

export interface UserCache {
  /** The user from memory while fresh and trusted, otherwise from `load` (and remembered). */
  get(id: string, load: (id: string) => Promise<UserRecord | undefined>): Promise<UserRecord | undefined>;
  /**
   * After a change to these users has committed: forgets them here and tells the other
   * processes to forget them too.
   */
  usersChanged(ids: readonly string[]): void;
  /** Forgets these users here only (another process changed them). */
  forget(ids: readonly string[]): void;
  /** Forgets every user here only (roles deleted, or events may have been missed). */
  clear(): void;
}

/** What the cache needs of the link between processes (see cluster/redis-link.ts). */
export interface UserCacheLink {
  isHealthy(): boolean;
  publish(event: { type: 'users-changed'; ids: readonly string[] }): void;
}

export interface UserCacheOptions {
  /** Users remembered at most, least recently used dropped first; 0 turns the cache off. */
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly now: () => number;
  /** Several processes: changes are published here and the cache is trusted only while healthy. */
  readonly link?: UserCacheLink;
}

interface Entry {
  readonly user: UserRecord;
  readonly expiresAt: number;
}

export function createUserCache(options: UserCacheOptions): UserCache {
  const { maxEntries, maxAgeMs, now, link } = options;
  const entries = new Map<string, Entry>();
  // Bumped by every forget: a load that began before a change must not store what it read.
  let generation = 0;
  const trusted = () => maxEntries > 0 && (link === undefined || link.isHealthy());

  const forget = (ids: readonly string[]) => {
    generation++;
    for (const id of ids) entries.delete(id);
  };

  return {
    async get(id, load) {
      if (!trusted()) return load(id);
      const entry = entries.get(id);
      if (entry !== undefined) {
        if (entry.expiresAt > now()) {
          // Map order is recency order: move the hit to the end.
          entries.delete(id);
          entries.set(id, entry);
          return entry.user;
        }
        entries.delete(id);
      }
      const loadedIn = generation;
      const user = await load(id);
      if (user !== undefined && loadedIn === generation && trusted()) {
        entries.set(id, { user, expiresAt: now() + maxAgeMs });
        if (entries.size > maxEntries) {
          const oldest = entries.keys().next();
          if (!oldest.done) entries.delete(oldest.value);
        }
      }
      return user;
    },
    usersChanged(ids) {
      forget(ids);
      if (link !== undefined && ids.length > 0) link.publish({ type: 'users-changed', ids });
    },
    forget,
    clear() {
      generation++;
      entries.clear();
    },
  };
}
