/**
 * Every signing key ring the server holds: the access-token ring (GATEHOUSE_JWT_ALG) and, for
 * ID tokens, an RS256 ring (OpenID Connect requires RS256) plus EdDSA or ES256 rings made the
 * first time a client registered for them needs one. The JWKS lists all of them; upkeep rotates
 * and reloads all of them.
 */
import type { Clock } from '../clock.ts';
import type { JwtAlgorithm } from '../config.ts';
import type { Store } from '../store/db.ts';
import { findActiveSigningKey } from '../store/signing-keys.ts';
import {
  type KeyInfo,
  type KeyRing,
  type KeyRingOptions,
  loadKeyRing,
  type PublicSigningJwk,
} from './keys.ts';

export type IdTokenAlgorithm = Exclude<JwtAlgorithm, 'HS256'>;
export const ID_TOKEN_ALGORITHMS: readonly IdTokenAlgorithm[] = ['RS256', 'EdDSA', 'ES256'];

export interface KeySet {
  /** The ring of `alg`, loaded (and its first key created) on first use. */
  ring(alg: IdTokenAlgorithm): Promise<KeyRing>;
  /** The public keys of every ring, for `/.well-known/jwks.json`. */
  publicJwks(): { keys: PublicSigningJwk[] };
  reload(): Promise<void>;
  /** Rotates every ring whose active key is older than `maxAgeDays`. */
  rotateIfOlderThan(maxAgeDays: number): Promise<string | undefined>;
  list(): Promise<KeyInfo[]>;
}

export async function loadKeySet(
  store: Store,
  accessTokenKeys: KeyRing,
  clock: Clock,
  options: KeyRingOptions,
): Promise<KeySet> {
  const rings = new Map<JwtAlgorithm, Promise<KeyRing>>([
    [accessTokenKeys.alg, Promise.resolve(accessTokenKeys)],
  ]);
  const ring = (alg: IdTokenAlgorithm): Promise<KeyRing> => {
    let found = rings.get(alg);
    if (found === undefined) {
      found = loadKeyRing(store, alg, undefined, clock, options);
      rings.set(alg, found);
      found.catch(() => rings.delete(alg));
    }
    return found;
  };
  // OpenID Connect Core §15.1: RS256 is always there for ID tokens.
  await ring('RS256');
  const loadedRings = async () => Promise.all([...rings.values()]);
  const loaded: KeyRing[] = [];
  const refreshLoaded = async () => {
    loaded.splice(0, loaded.length, ...(await loadedRings()));
  };
  // Rings another process made (for a client registered with ES256 or EdDSA) are loaded here too:
  // at start, and on every reload and upkeep run, so every process lists their keys.
  const discover = async () => {
    for (const alg of ID_TOKEN_ALGORITHMS) {
      if (!rings.has(alg) && (await findActiveSigningKey(store.db, alg)) !== undefined) await ring(alg);
    }
    await refreshLoaded();
  };
  await discover();
  return {
    ring: async (alg) => {
      const isNew = !rings.has(alg);
      const found = await ring(alg);
      // Other processes learn of a new ring as of a rotation (and find it at their next upkeep).
      if (isNew) options.onRotated?.();
      if (!loaded.includes(found)) await refreshLoaded();
      return found;
    },
    publicJwks: () => {
      const seen = new Set<string>();
      const keys: PublicSigningJwk[] = [];
      for (const each of loaded) {
        for (const key of each.publicJwks().keys) {
          if (!seen.has(key.kid)) keys.push(key);
          seen.add(key.kid);
        }
      }
      return { keys };
    },
    reload: async () => {
      await discover();
      for (const each of await loadedRings()) await each.reload();
    },
    rotateIfOlderThan: async (maxAgeDays) => {
      await discover();
      let first: string | undefined;
      for (const each of await loadedRings()) {
        const kid = await each.rotateIfOlderThan(maxAgeDays);
        first ??= kid;
      }
      return first;
    },
    list: async () => (await Promise.all((await loadedRings()).map((each) => each.list()))).flat(),
  };
}
