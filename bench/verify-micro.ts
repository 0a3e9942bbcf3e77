/**
 * `node bench/verify-micro.ts`: what one cold access-token check costs on this machine, by part.
 * Signs Ed25519 access tokens as Gatehouse does, then times, alternating in rounds so a busy
 * machine weighs on each alike: the bare signature check (`crypto.verify` with a KeyObject),
 * Gatehouse's whole check of a token it has not seen (`verifyAccessToken`, no cache), and jose's
 * `jwtVerify` with the same checks. Prints microseconds per token (the median of the rounds).
 * Run it pinned as the bench pins the server: `taskset -c 0 node bench/verify-micro.ts`.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import { createTokenService } from '../src/auth/tokens.ts';

const COUNT = 2000;
const ROUNDS = 7;
const issuer = 'http://127.0.0.1:8000';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const kid = 'bench-key';
const key = {
  kid,
  alg: 'EdDSA' as const,
  sign: (data: Buffer) => sign(null, data, privateKey),
  verify: (data: Buffer, signature: Buffer) => verify(null, data, publicKey, signature),
};
const ring = {
  alg: 'EdDSA',
  activeKey: () => key,
  findVerificationKey: (id: string) => (id === kid ? key : undefined),
};
const clock = { now: () => Date.now() };
const options = { issuer, audience: issuer, ttlSeconds: 900, cacheSize: 0 };
const tokens = createTokenService(ring as never, clock, options);
const minted = Array.from(
  { length: COUNT },
  (_, i) =>
    tokens.issueAccessToken({
      userId: `user-${i}`,
      username: 'bench',
      roles: ['user'],
      scope: 'profile:read',
    }).token,
);
const parts = minted.map((token) => {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return { data: Buffer.from(`${header}.${payload}`), signature: Buffer.from(signature, 'base64url') };
});
const joseKey = await importJWK(publicKey.export({ format: 'jwk' }), 'EdDSA');

const runs: Record<string, () => Promise<void> | void> = {
  'crypto.verify (signature only)': () => {
    for (const { data, signature } of parts)
      if (!verify(null, data, publicKey, signature)) throw new Error('bad');
  },
  'Gatehouse verifyAccessToken (no cache)': () => {
    for (const token of minted) tokens.verifyAccessToken(token);
  },
  'jose jwtVerify': async () => {
    for (const token of minted) {
      await jwtVerify(token, joseKey, { issuer, audience: issuer, typ: 'at+jwt', algorithms: ['EdDSA'] });
    }
  },
};
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(runs)) {
    const t0 = performance.now();
    await run();
    samples[name]?.push(((performance.now() - t0) * 1000) / COUNT);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
console.table(
  Object.fromEntries(
    Object.entries(samples).map(([name, values]) => [
      name,
      { 'µs per token (median)': median(values).toFixed(1) },
    ]),
  ),
);
