/** Settings: access tokens, sessions and API keys, and how long each lives. */
import { duration, durationOrNone, durationOrZero, integer, oneOf, SettingError, text } from '../parsers.ts';
import { type Settled, setting } from '../setting.ts';

function checkJwtSecret(value: string | undefined, settled: Settled): void {
  if (settled.jwtAlg === 'HS256') {
    if (value === undefined) throw new SettingError('is required when GATEHOUSE_JWT_ALG=HS256');
    if (Buffer.byteLength(value, 'utf8') < 32) throw new SettingError('must be at least 32 bytes');
    if (/^(change-?me|secret|your-secret-key)/i.test(value))
      throw new SettingError('must not be a placeholder');
  } else if (value !== undefined) {
    throw new SettingError('is only used with GATEHOUSE_JWT_ALG=HS256; unset it or choose HS256');
  }
}

export const TOKEN_SETTINGS = [
  setting({
    env: 'GATEHOUSE_JWT_ALG',
    key: 'jwtAlg',
    description: 'Access-token signature algorithm: `EdDSA` (Ed25519), `ES256`, `RS256` or `HS256`.',
    defaultText: 'EdDSA',
    type: oneOf(['EdDSA', 'ES256', 'RS256', 'HS256']),
  }),
  setting({
    env: 'GATEHOUSE_JWT_SECRET',
    key: 'jwtSecret',
    description: 'Shared secret for HS256, at least 32 bytes. Required with HS256, refused otherwise.',
    defaultText: '(unset)',
    type: text(),
    default: () => undefined,
    check: checkJwtSecret,
  }),
  setting({
    env: 'GATEHOUSE_ACCESS_TOKEN_TTL',
    key: 'accessTokenTtlSeconds',
    description: 'Lifetime of access tokens.',
    defaultText: '15m',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_SESSION_TTL',
    key: 'sessionTtlSeconds',
    description: 'Absolute lifetime of a session and of its refresh tokens and cookie.',
    defaultText: '30d',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_SESSION_IDLE_TTL',
    key: 'sessionIdleTtlSeconds',
    description: 'A session unused for this long ends.',
    defaultText: '7d',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_REAUTH_MAX_AGE',
    key: 'reauthMaxAgeSeconds',
    description:
      'Creating an API key and changing your email or password need a password proven this recently (`auth_time`); older sessions get 401 `REAUTH_REQUIRED` and prove it again at `POST /reauthenticate`.',
    defaultText: '10m',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_REFRESH_REUSE_GRACE',
    key: 'refreshReuseGraceSeconds',
    description:
      'A spent refresh token presented again within this window gets a sibling token instead of revoking the session (two tabs refreshing at once). `0` turns it off.',
    defaultText: '10s',
    type: durationOrZero,
  }),
  setting({
    env: 'GATEHOUSE_KEY_ROTATION_DAYS',
    key: 'keyRotationDays',
    description:
      'Rotate the signing key when the active one is older than this many days (checked at start and every minute). `0` turns it off.',
    defaultText: '90',
    type: integer(0, 3650),
  }),
  setting({
    env: 'GATEHOUSE_API_KEY_TTL',
    key: 'apiKeyTtlSeconds',
    description: 'Lifetime of an API key created without `expires_in`.',
    defaultText: '90d',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_API_KEY_MAX_TTL',
    key: 'apiKeyMaxTtlSeconds',
    description:
      'Longest `expires_in` an API key may ask for (at least `GATEHOUSE_API_KEY_TTL`); `none` also allows keys that never expire (`"expires_in": null`).',
    defaultText: '365d',
    type: durationOrNone,
    check: (value, settled) => {
      if (value !== null && settled.apiKeyTtlSeconds !== undefined && value < settled.apiKeyTtlSeconds) {
        throw new SettingError('must be at least GATEHOUSE_API_KEY_TTL');
      }
    },
  }),
];
