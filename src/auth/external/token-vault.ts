/**
 * Providers' access and refresh tokens, kept only with GATEHOUSE_OAUTH_STORE_TOKENS=true:
 * AES-256-GCM under GATEHOUSE_ENCRYPTION_KEY, with the identity's id as additional data, so a
 * sealed value copied to another row does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface ProviderTokens {
  readonly accessToken: string;
  readonly refreshToken: string | null;
  /** When the access token expires (ms), when the provider said. */
  readonly expiresAt: number | null;
  readonly scope: string | null;
}

const VERSION = 'v1';

export interface TokenVault {
  seal(identityId: string, tokens: ProviderTokens): string;
  /** Undefined when the value does not open under this key (another key, another row, altered). */
  open(identityId: string, sealed: string): ProviderTokens | undefined;
}

export function createTokenVault(key: Buffer): TokenVault {
  if (key.length !== 32) throw new TypeError('token vault: the key must be 32 bytes');
  return {
    seal(identityId, tokens) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(identityId));
      const body = Buffer.concat([cipher.update(JSON.stringify(tokens), 'utf8'), cipher.final()]);
      return [
        VERSION,
        iv.toString('base64url'),
        Buffer.concat([body, cipher.getAuthTag()]).toString('base64url'),
      ].join('.');
    },
    open(identityId, sealed) {
      const [version, ivText, bodyText] = sealed.split('.');
      if (version !== VERSION || ivText === undefined || bodyText === undefined) return undefined;
      const body = Buffer.from(bodyText, 'base64url');
      if (body.length < 16) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'));
        decipher.setAAD(Buffer.from(identityId));
        decipher.setAuthTag(body.subarray(body.length - 16));
        const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
        return JSON.parse(plain.toString('utf8')) as ProviderTokens;
      } catch {
        return undefined;
      }
    },
  };
}
