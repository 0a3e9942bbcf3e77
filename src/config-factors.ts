/**
 * The settings of second factors and passkeys, as rows of config.ts's SETTINGS (which passes in
 * its error class, so this module imports nothing of it).
 */
import { parseEncryptionKey } from './auth/encryption.ts';

export type MfaPolicy = 'optional' | 'required_for_admins' | 'required';
export const MFA_POLICIES: readonly MfaPolicy[] = ['optional', 'required_for_admins', 'required'];

export interface FactorConfig {
  readonly mfa: MfaPolicy;
  /** AES-256-GCM keys for secrets stored at rest; the first encrypts. Empty: none configured. */
  readonly encryptionKeys: readonly string[];
}

interface FactorSetting {
  readonly env: string;
  readonly key: keyof FactorConfig;
  readonly description: string;
  readonly defaultText: string;
  readonly parse: (raw: string | undefined) => unknown;
}

export function factorSettings(SettingError: new (message: string) => Error): FactorSetting[] {
  return [
    {
      env: 'GATEHOUSE_MFA',
      key: 'mfa',
      description:
        'Second factors: `optional` (each user chooses), `required_for_admins` (users with the `admin` role must enrol one) or `required` (everyone). A user who must and has none gets 403 `mfa_enrollment_required` with an `enrollment_token` at password sign-in.',
      defaultText: 'optional',
      parse: (raw) => {
        if (raw === undefined || raw === '') return 'optional';
        if (!(MFA_POLICIES as readonly string[]).includes(raw)) {
          throw new SettingError(`must be one of ${MFA_POLICIES.join(', ')}`);
        }
        return raw;
      },
    },
    {
      env: 'GATEHOUSE_ENCRYPTION_KEY',
      key: 'encryptionKeys',
      description:
        'Comma-separated 256-bit keys (64 hex digits or base64; make one with `openssl rand -hex 32`) that encrypt stored secrets such as authenticator-app secrets (AES-256-GCM). The first encrypts, all decrypt: rotate by putting a new key first. Required once any authenticator app is enrolled; the server refuses to start without it then.',
      defaultText: '(unset)',
      parse: (raw) => {
        if (raw === undefined || raw.trim() === '') return [];
        const keys = raw.split(',').map((k) => k.trim());
        if (keys.some((k) => parseEncryptionKey(k) === undefined)) {
          throw new SettingError(
            'must be 256-bit keys: 64 hex digits or 32 bytes in base64, comma-separated',
          );
        }
        return keys;
      },
    },
  ];
}
