/**
 * Providers' access and refresh tokens, kept only with GATEHOUSE_OAUTH_STORE_TOKENS=true:
 * AES-256-GCM under GATEHOUSE_ENCRYPTION_KEY (auth/encryption.ts, with its key rotation), with the
 * identity's id as additional data, so a sealed value copied to another row does not open.
 */
import type { SecretBox } from '../encryption.ts';

export interface ProviderTokens {
  readonly accessToken: string;
  readonly refreshToken: string | null;
  /** When the access token expires (ms), when the provider said. */
  readonly expiresAt: number | null;
  readonly scope: string | null;
}

export interface TokenVault {
  seal(identityId: string, tokens: ProviderTokens): string;
  /** Undefined when the value does not open under the configured keys (another key, another row, altered). */
  open(identityId: string, sealed: string): ProviderTokens | undefined;
}

const aad = (identityId: string) => `identity:${identityId}:provider-tokens`;

export function createTokenVault(box: SecretBox): TokenVault {
  if (!box.enabled) throw new TypeError('token vault: no encryption key configured');
  return {
    seal: (identityId, tokens) => box.encrypt(JSON.stringify(tokens), aad(identityId)),
    open(identityId, sealed) {
      try {
        return JSON.parse(box.decrypt(sealed, aad(identityId))) as ProviderTokens;
      } catch {
        return undefined;
      }
    },
  };
}
