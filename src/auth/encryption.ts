/**
 * Secrets Gatehouse must read back (TOTP shared secrets) are encrypted at rest with AES-256-GCM
 * under `GATEHOUSE_ENCRYPTION_KEY`: a comma-separated list of 256-bit keys, the first encrypts and
 * every one decrypts, so a key rotates by putting the new one first. A ciphertext names its key
 * by a short fingerprint and is bound to what it belongs to (`aad`), so a row's secret copied
 * onto another row does not decrypt.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export interface SecretBox {
  /** Whether a key is configured: without one nothing can be encrypted. */
  readonly enabled: boolean;
  encrypt(plaintext: string, aad: string): string;
  /** Throws when no configured key fits or the ciphertext was changed. */
  decrypt(ciphertext: string, aad: string): string;
}

/** A key as written in the setting: 64 hex digits or 32 bytes in base64(url). Undefined if neither. */
export function parseEncryptionKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, ''), 'base64url');
    return key.length === 32 ? key : undefined;
  }
  return undefined;
}

const fingerprint = (key: Buffer) => createHash('sha256').update(key).digest('base64url').slice(0, 8);

export function createSecretBox(keyTexts: readonly string[]): SecretBox {
  const keys = keyTexts.map((text) => {
    const key = parseEncryptionKey(text);
    if (key === undefined) throw new TypeError('encryption key must be 32 bytes (64 hex digits or base64)');
    return { id: fingerprint(key), key };
  });
  return {
    enabled: keys.length > 0,
    encrypt(plaintext, aad) {
      const current = keys[0];
      if (current === undefined) throw new Error('no encryption key configured');
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [VERSION, current.id, iv, body, cipher.getAuthTag()];
      return parts.map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
    },
    decrypt(ciphertext, aad) {
      const [version, id, iv, body, tag] = ciphertext.split('.');
      const entry = keys.find((k) => k.id === id);
      if (version !== VERSION || entry === undefined || !iv || body === undefined || !tag) {
        throw new Error('no configured encryption key fits this secret');
      }
      const decipher = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}
