import type { Store } from '../store/db.ts';
import { listSessionsRevokedSince } from '../store/sessions.ts';

/**
 * Which sessions are revoked, checked on every request without touching the database. The store
 * is the source of truth: this set is loaded from it at start and told of every revocation after
 * the revoking transaction commits. A Redis implementation can share it across processes.
 *
 * An entry is needed only while an access token from that session can still be unexpired, so
 * each is kept for the access-token lifetime (plus skew) after its revocation, then pruned.
 */
export interface RevocationState {
  /** Synchronous: called on the request path of every bearer request. */
  isSessionRevoked(sessionId: string): boolean;
  /** Records revocations that have been committed to the store at `revokedAtMs`. */
  markSessionsRevoked(sessionIds: readonly string[], revokedAtMs: number): void;
  /**
   * False while this process may have missed a revocation made by another one (the shared link
   * is down): callers then ask the store, so revocation is never laxer than the database.
   */
  isComplete(): boolean;
}

export interface MemoryRevocationOptions {
  /** How long after revocation an entry matters: access-token lifetime plus clock skew. */
  readonly retainMs: number;
  readonly now: () => number;
}

export function createMemoryRevocationState(options: MemoryRevocationOptions): RevocationState {
  // Insertion order is revocation order, so pruning stops at the first entry still needed.
  const revoked = new Map<string, number>();
  let nextPruneAt = 0;
  const prune = (nowMs: number) => {
    if (nowMs < nextPruneAt) return;
    nextPruneAt = nowMs + 60_000;
    for (const [id, keepUntil] of revoked) {
      if (keepUntil > nowMs) break;
      revoked.delete(id);
    }
  };
  return {
    isSessionRevoked: (sessionId) => {
      prune(options.now());
      return revoked.has(sessionId);
    },
    markSessionsRevoked: (sessionIds, revokedAtMs) => {
      for (const id of sessionIds) {
        revoked.delete(id);
        revoked.set(id, revokedAtMs + options.retainMs);
      }
    },
    isComplete: () => true,
  };
}

/** What the shared state needs of the link between processes (see cluster/redis-link.ts). */
export interface RevocationLink {
  isHealthy(): boolean;
  publish(event: { type: 'sessions-revoked'; ids: readonly string[]; at: number }): void;
}

/**
 * Several processes: each keeps its own in-memory set for the request path, tells the others of
 * its revocations through the link, and is complete only while the link is healthy.
 */
export function createSharedRevocationState(local: RevocationState, link: RevocationLink): RevocationState {
  return {
    isSessionRevoked: (sessionId) => local.isSessionRevoked(sessionId),
    markSessionsRevoked: (sessionIds, revokedAtMs) => {
      local.markSessionsRevoked(sessionIds, revokedAtMs);
      if (sessionIds.length > 0) link.publish({ type: 'sessions-revoked', ids: sessionIds, at: revokedAtMs });
    },
    isComplete: () => link.isHealthy(),
  };
}

/**
 * The same state, also telling `onRevoked` after each committed revocation of this process (the
 * back-channel logouts queued with it are then delivered without waiting for the next upkeep run).
 */
export function notifyingRevocationState(state: RevocationState, onRevoked: () => void): RevocationState {
  return {
    isSessionRevoked: (sessionId) => state.isSessionRevoked(sessionId),
    markSessionsRevoked: (sessionIds, revokedAtMs) => {
      state.markSessionsRevoked(sessionIds, revokedAtMs);
      if (sessionIds.length > 0) onRevoked();
    },
    isComplete: () => state.isComplete(),
  };
}

/** Loads into `state` the revocations committed since `sinceMs` (at start, and after an outage). */
export async function loadRecentRevocations(
  store: Store,
  sinceMs: number,
  state: RevocationState,
): Promise<void> {
  for (const { id, revokedAt } of await listSessionsRevokedSince(store.db, sinceMs)) {
    state.markSessionsRevoked([id], revokedAt);
  }
}
