/** Settings: second factors and passkeys. */
import { parseEncryptionKey } from '../../auth/encryption.ts';
import { list, oneOf, SettingError } from '../parsers.ts';
import { setting } from '../setting.ts';

function encryptionKey(trimmed: string): string {
  if (parseEncryptionKey(trimmed) === undefined) {
    throw new SettingError('must be 256-bit keys: 64 hex digits or 32 bytes in base64, comma-separated');
  }
  return trimmed;
}

export const FACTOR_SETTINGS = [
  setting({
    env: 'GATEHOUSE_MFA',
    key: 'mfa',
    description:
      'Second factors: `optional` (each user chooses), `required_for_admins` (users with the `admin` role must enrol one) or `required` (everyone). A user who must and has none gets 403 `mfa_enrollment_required` with an `enrollment_token` at sign-in.',
    defaultText: 'optional',
    type: oneOf(['optional', 'required_for_admins', 'required']),
  }),
  setting({
    env: 'GATEHOUSE_ENCRYPTION_KEY',
    key: 'encryptionKeys',
    description:
      'Comma-separated 256-bit keys (64 hex digits or base64; make one with `openssl rand -hex 32`) that encrypt stored secrets such as authenticator-app secrets (AES-256-GCM). The first encrypts, all decrypt: rotate by putting a new key first. Required once any authenticator app is enrolled; the server refuses to start without it then. Unset on a SQLite file, `gatehouse` keeps one in `encryption.key` beside the database (made by the first `serve`, mode 0600); unset on PostgreSQL, authenticator apps are unavailable (503 `MFA_UNAVAILABLE`).',
    defaultText: '(unset)',
    type: list(encryptionKey),
    default: () => [],
  }),
];
