/**
 * The signing key ring. jose generates keys and exports JWKs; signing and verifying on the request
 * path use node:crypto synchronously (jose 6 verifies through WebCrypto on the libuv threadpool,
 * where it queues behind password hashes — see ARCHITECTURE.md).
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Clock } from '../clock.ts';
import type { JwtAlgorithm } from '../config.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import {
  findActiveSigningKey,
  insertActiveSigningKey,
  listSigningKeys,
  retireActiveSigningKeys,
} from '../store/signing-keys.ts';

export interface SigningKey {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  sign(data: Buffer): Buffer;
}

export interface VerificationKey {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  verify(data: Buffer, signature: Buffer): boolean;
}

export type KeyState = 'active' | 'retired' | 'expired';

export interface KeyInfo {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  readonly createdAt: number;
  readonly retiredAt: number | null;
  /** `retired` keys still verify tokens they signed; `expired` ones have left the JWKS. */
  readonly state: KeyState;
}

/** A public key as `/.well-known/jwks.json` lists it: always with its `kid`, `alg` and `use`. */
export type PublicSigningJwk = JWK & { readonly kid: string; readonly alg: string; readonly use: 'sig' };

export interface KeyRing {
  readonly alg: JwtAlgorithm;
  activeKey(): SigningKey;
  /** The key for `kid`, or undefined when it is unknown, expired, or of another algorithm. */
  findVerificationKey(kid: string): VerificationKey | undefined;
  /** Public keys for `/.well-known/jwks.json`: active and retired-but-unexpired; empty for HS256. */
  publicJwks(): { keys: PublicSigningJwk[] };
  /** Re-reads the keys from the store (another process may have rotated them). */
  reload(): Promise<void>;
  /** Makes a new key active; the old one verifies until the tokens it signed have expired. */
  rotate(): Promise<string>;
  /** Rotates when the active key is older than `maxAgeDays`; returns the new kid if it did. */
  rotateIfOlderThan(maxAgeDays: number): Promise<string | undefined>;
  list(): Promise<KeyInfo[]>;
}

export interface KeyRingOptions {
  /** How long a retired key keeps verifying: the access-token lifetime plus clock skew. */
  readonly retainRetiredMs: number;
  /** Told after this process rotated the key, so other processes can reload theirs. */
  readonly onRotated?: () => void;
}

const NODE_DIGEST: Record<Exclude<JwtAlgorithm, 'HS256'>, string | null> = {
  EdDSA: null,
  ES256: 'sha256',
  RS256: 'sha256',
};

function asymmetricKeys(alg: Exclude<JwtAlgorithm, 'HS256'>, kid: string, privateJwk: JWK, publicJwk: JWK) {
  const digest = NODE_DIGEST[alg];
  // JWS ES256 signatures are r||s (RFC 7518 §3.4), not DER.
  const dsaEncoding = alg === 'ES256' ? ('ieee-p1363' as const) : undefined;
  const privateKey: KeyObject = createPrivateKey({
    key: privateJwk as import('node:crypto').JsonWebKey,
    format: 'jwk',
  });
  const publicKey: KeyObject = createPublicKey({
    key: publicJwk as import('node:crypto').JsonWebKey,
    format: 'jwk',
  });
  const signing: SigningKey = {
    kid,
    alg,
    sign: (data) => sign(digest, data, dsaEncoding ? { key: privateKey, dsaEncoding } : privateKey),
  };
  const verification: VerificationKey = {
    kid,
    alg,
    verify: (data, signature) =>
      verify(digest, data, dsaEncoding ? { key: publicKey, dsaEncoding } : publicKey, signature),
  };
  return { signing, verification };
}

function hmacKeys(secret: string) {
  const kid = `hs256-${createHash('sha256').update(secret).digest('base64url').slice(0, 16)}`;
  const mac = (data: Buffer) => createHmac('sha256', secret).update(data).digest();
  const signing: SigningKey = { kid, alg: 'HS256', sign: mac };
  const verification: VerificationKey = {
    kid,
    alg: 'HS256',
    verify: (data, signature) => {
      const expected = mac(data);
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    },
  };
  return { signing, verification };
}

/** Loads the ring from the store, creating the first key when there is none. */
export async function loadKeyRing(
  store: Store,
  alg: JwtAlgorithm,
  jwtSecret: string | undefined,
  clock: Clock,
  options: KeyRingOptions,
): Promise<KeyRing> {
  if (alg === 'HS256') {
    if (jwtSecret === undefined) throw new TypeError('jwtSecret is required for HS256');
    const { signing, verification } = hmacKeys(jwtSecret);
    const refuse = async (): Promise<never> => {
      throw new Error('HS256 signs with GATEHOUSE_JWT_SECRET; rotate it by changing the secret');
    };
    return {
      alg,
      activeKey: () => signing,
      findVerificationKey: (kid) => (kid === verification.kid ? verification : undefined),
      publicJwks: () => ({ keys: [] }),
      reload: async () => {},
      rotate: refuse,
      rotateIfOlderThan: async () => undefined,
      list: async () => [{ kid: verification.kid, alg, createdAt: 0, retiredAt: null, state: 'active' }],
    };
  }

  const asymmetricAlg: Exclude<JwtAlgorithm, 'HS256'> = alg;
  interface LoadedKey {
    readonly info: Omit<KeyInfo, 'state'>;
    readonly verification: VerificationKey;
    readonly jwk: PublicSigningJwk;
  }
  let active: { signing: SigningKey; createdAt: number } | undefined;
  let loaded: LoadedKey[] = [];

  const isExpired = (key: Omit<KeyInfo, 'state'>, nowMs: number) =>
    key.retiredAt !== null && key.retiredAt + options.retainRetiredMs <= nowMs;

  async function reload(): Promise<void> {
    let rows = await listSigningKeys(store.db, alg);
    if (!rows.some((row) => row.state === 'active')) {
      // Several processes may start on an empty database at once: only the first creates a key.
      await createSigningKey(store, asymmetricAlg, clock, (current) => current === undefined);
      rows = await listSigningKeys(store.db, alg);
    }
    const newestFirst = [...rows].sort(
      (a, b) =>
        Number(b.state === 'active') - Number(a.state === 'active') ||
        (b.retiredAt ?? 0) - (a.retiredAt ?? 0) ||
        b.createdAt - a.createdAt,
    );
    let nextActive: typeof active;
    const nextLoaded: LoadedKey[] = [];
    for (const row of newestFirst) {
      const publicJwk = JSON.parse(row.publicJwk) as JWK;
      const { signing, verification } = asymmetricKeys(
        asymmetricAlg,
        row.kid,
        JSON.parse(row.privateJwk) as JWK,
        publicJwk,
      );
      const info = { kid: row.kid, alg, createdAt: row.createdAt, retiredAt: row.retiredAt };
      nextLoaded.push({ info, verification, jwk: { ...publicJwk, kid: row.kid, alg, use: 'sig' } });
      if (row.state === 'active' && nextActive === undefined)
        nextActive = { signing, createdAt: info.createdAt };
    }
    if (nextActive === undefined) throw new Error('No active signing key');
    active = nextActive;
    loaded = nextLoaded;
  }

  await reload();
  const ring: KeyRing = {
    alg,
    activeKey: () => {
      if (active === undefined) throw new Error('No active signing key');
      return active.signing;
    },
    findVerificationKey: (kid) => {
      const key = loaded.find((candidate) => candidate.info.kid === kid);
      if (key === undefined || isExpired(key.info, clock.now())) return undefined;
      return key.verification;
    },
    publicJwks: () => ({
      keys: loaded.filter((key) => !isExpired(key.info, clock.now())).map((key) => key.jwk),
    }),
    reload,
    rotate: async () => {
      const kid = (await createSigningKey(store, asymmetricAlg, clock, () => true)) as string;
      await reload();
      options.onRotated?.();
      return kid;
    },
    rotateIfOlderThan: async (maxAgeDays) => {
      await reload();
      if (maxAgeDays <= 0 || active === undefined) return undefined;
      const maxAgeMs = maxAgeDays * 86_400_000;
      if (clock.now() - active.createdAt < maxAgeMs) return undefined;
      // Every process sees the key come due at the same minute; the check is repeated under the
      // lock so that one of them rotates and the others find the new key.
      const kid = await createSigningKey(
        store,
        asymmetricAlg,
        clock,
        (current) => current === undefined || clock.now() - current.createdAt >= maxAgeMs,
      );
      await reload();
      if (kid !== undefined) options.onRotated?.();
      return kid;
    },
    list: async () => {
      await reload();
      const nowMs = clock.now();
      return loaded.map((key) => ({
        ...key.info,
        state: key.info.retiredAt === null ? 'active' : isExpired(key.info, nowMs) ? 'expired' : 'retired',
      }));
    },
  };
  return ring;
}

/**
 * Generates a key pair with jose and, if `shouldCreate` still holds for the active key once the
 * signing-key lock is held, stores it as the active key and returns its kid.
 */
export async function createSigningKey(
  store: Store,
  alg: Exclude<JwtAlgorithm, 'HS256'>,
  clock: Clock,
  shouldCreate: (active: { kid: string; createdAt: number } | undefined) => boolean,
): Promise<string | undefined> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return store.exclusiveTransaction('signing_keys', async (trx) => {
    if (!shouldCreate(await findActiveSigningKey(trx, alg))) return undefined;
    const retired = await retireActiveSigningKeys(trx, alg, clock.now());
    await insertActiveSigningKey(trx, {
      kid,
      alg,
      privateJwk: JSON.stringify(privateJwk),
      publicJwk: JSON.stringify(publicJwk),
      createdAt: clock.now(),
    });
    await recordAuditEvent(trx, { event: 'key.rotated', at: clock.now(), details: { kid, alg, retired } });
    return kid;
  });
}
