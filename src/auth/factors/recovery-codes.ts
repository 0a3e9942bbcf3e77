/**
 * Recovery codes (NIST SP 800-63B §5.1.2 look-up secrets): ten random codes shown once, stored as
 * hashes, each spent by its first use. 50 bits each, so a fast hash is enough (as for tokens).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hashSecret } from '../secrets.ts';

export const RECOVERY_CODE_COUNT = 10;
// Crockford-style: no 0/o, 1/l/i, so a code copied by hand reads back right.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

function randomCode(): string {
  const bytes = randomBytes(10);
  const chars = [...bytes].map((b) => ALPHABET[b % ALPHABET.length]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/** As typed: case, spaces and dashes do not matter. */
export function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

export const hashRecoveryCode = (code: string) => hashSecret(`recovery:${normalizeRecoveryCode(code)}`);

export function newRecoveryCodes(): { codes: string[]; rows: { id: string; hash: string }[] } {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, randomCode);
  return { codes, rows: codes.map((code) => ({ id: randomUUID(), hash: hashRecoveryCode(code) })) };
}
