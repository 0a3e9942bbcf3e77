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
import type { Store } from '../store/db.ts';

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

export interface KeyRing {
  readonly alg: JwtAlgorithm;
  activeKey(): SigningKey;
  /** The key for `kid`, or undefined when it is unknown (or of another algorithm). */
  findVerificationKey(kid: string): VerificationKey | undefined;
  /** Public keys for `/.well-known/jwks.json`; empty for HS256. */
  publicJwks(): { keys: JWK[] };
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
): Promise<KeyRing> {
  if (alg === 'HS256') {
    if (jwtSecret === undefined) throw new TypeError('jwtSecret is required for HS256');
    const { signing, verification } = hmacKeys(jwtSecret);
    return {
      alg,
      activeKey: () => signing,
      findVerificationKey: (kid) => (kid === verification.kid ? verification : undefined),
      publicJwks: () => ({ keys: [] }),
    };
  }
  let rows = await store.db.selectFrom('signing_keys').selectAll().where('alg', '=', alg).execute();
  if (!rows.some((row) => row.state === 'active')) {
    await createSigningKey(store, alg, clock);
    rows = await store.db.selectFrom('signing_keys').selectAll().where('alg', '=', alg).execute();
  }
  const verifiers = new Map<string, VerificationKey>();
  const jwks: JWK[] = [];
  let active: SigningKey | undefined;
  const newestFirst = [...rows].sort((a, b) => b.created_at - a.created_at);
  for (const row of newestFirst) {
    const publicJwk = JSON.parse(row.public_jwk) as JWK;
    const { signing, verification } = asymmetricKeys(
      alg,
      row.kid,
      JSON.parse(row.private_jwk) as JWK,
      publicJwk,
    );
    verifiers.set(row.kid, verification);
    jwks.push({ ...publicJwk, kid: row.kid, alg, use: 'sig' });
    if (row.state === 'active' && active === undefined) active = signing;
  }
  if (active === undefined) throw new Error('No active signing key');
  const signingKey = active;
  const published = { keys: jwks };
  return {
    alg,
    activeKey: () => signingKey,
    findVerificationKey: (kid) => verifiers.get(kid),
    publicJwks: () => published,
  };
}

/** Generates a key pair with jose and stores it as the active key. Returns its kid. */
export async function createSigningKey(
  store: Store,
  alg: Exclude<JwtAlgorithm, 'HS256'>,
  clock: Clock,
): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const privateJwk = await exportJWK(privateKey);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  await store.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('signing_keys')
      .set({ state: 'retired' })
      .where('alg', '=', alg)
      .where('state', '=', 'active')
      .execute();
    await trx
      .insertInto('signing_keys')
      .values({
        kid,
        alg,
        private_jwk: JSON.stringify(privateJwk),
        public_jwk: JSON.stringify(publicJwk),
        state: 'active',
        created_at: clock.now(),
      })
      .execute();
  });
  return kid;
}
