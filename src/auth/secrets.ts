/**
 * Opaque secrets: generation, the hash that is stored instead of them, and constant-time
 * comparison (oidc-provider `lib/helpers/constant_equals.js`). Every stored token or key is a hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random value of `bytes` bytes (default 256 bits), base64url. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** The stored form of a secret: SHA-256, base64url (a secret has enough entropy for no salt). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether `secret` hashes to `storedHash`, compared in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  return constantTimeEqual(hashSecret(secret), storedHash);
}

const OPAQUE_TOKEN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;

/** `<id>.<secret>`: a 128-bit id to find the row, a 256-bit secret of which only a hash is kept. */
export function newOpaqueToken(): { id: string; secret: string; value: string } {
  const id = randomSecret(16);
  const secret = randomSecret();
  return { id, secret, value: `${id}.${secret}` };
}

/** The id and secret of an opaque token, or undefined when it is not one. */
export function splitOpaqueToken(value: string): { id: string; secret: string } | undefined {
  if (!OPAQUE_TOKEN.test(value)) return undefined;
  const [id, secret] = value.split('.') as [string, string];
  return { id, secret };
}
