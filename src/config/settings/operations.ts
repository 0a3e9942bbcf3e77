/** Settings: the bootstrapped admin, CORS, logs, metrics and caches. */
import { duration, integer, list, oneOf, origin, SettingError, text, visibleAscii } from '../parsers.ts';
import { setting } from '../setting.ts';

// The value is a secret: the message never repeats it.
const metricsToken = visibleAscii(16, 256, 'must be 16 to 256 printable ASCII characters without spaces');

export const OPERATION_SETTINGS = [
  setting({
    env: 'GATEHOUSE_ADMIN_USERNAME',
    key: 'adminUsername',
    description: 'With the two below: an admin created at start when no user has this name.',
    defaultText: '(unset)',
    type: text(),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_ADMIN_EMAIL',
    key: 'adminEmail',
    description: 'Email of the bootstrapped admin.',
    defaultText: '(unset)',
    type: text(),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_ADMIN_PASSWORD',
    key: 'adminPassword',
    description: 'Password of the bootstrapped admin (password policy applies).',
    defaultText: '(unset)',
    type: text(),
    default: () => undefined,
    check: (value, settled) => {
      const given = [settled.adminUsername, settled.adminEmail, value].filter((v) => v !== undefined).length;
      if (given !== 0 && given !== 3) {
        throw new SettingError('GATEHOUSE_ADMIN_USERNAME, _EMAIL and _PASSWORD must be set together');
      }
    },
  }),
  setting({
    env: 'GATEHOUSE_CORS_ORIGINS',
    key: 'corsOrigins',
    description: 'Comma-separated origins allowed by CORS; CORS is off when unset.',
    defaultText: '(unset)',
    type: list(origin),
    default: () => [],
  }),
  setting({
    env: 'GATEHOUSE_LOG_LEVEL',
    key: 'logLevel',
    description: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
    defaultText: 'info',
    type: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  }),
  setting({
    env: 'GATEHOUSE_LOG_FILE',
    key: 'logFile',
    description: 'Write logs to this file instead of standard output.',
    defaultText: '(stdout)',
    type: text(),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_LOG_FORMAT',
    key: 'logFormat',
    description:
      '`pretty` (one readable, coloured line per event, for people) or `json` (one JSON object per line, for log collectors). `auto`: `pretty` when standard output is a terminal, `json` otherwise.',
    defaultText: 'auto',
    type: oneOf(['pretty', 'json', 'auto']),
  }),
  setting({
    env: 'GATEHOUSE_METRICS',
    key: 'metrics',
    description:
      '`on` serves Prometheus metrics at `GET /metrics` and times every request; `off` does neither.',
    defaultText: 'on',
    type: oneOf(['on', 'off']),
  }),
  setting({
    env: 'GATEHOUSE_METRICS_TOKEN',
    key: 'metricsToken',
    description:
      '`GET /metrics` then needs `Authorization: Bearer <this token>` (at least 16 characters); unset: open on the standalone server, absent from the embedded plugin.',
    defaultText: '(unset)',
    type: text(metricsToken),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_JWKS_MAX_AGE',
    key: 'jwksMaxAgeSeconds',
    description: '`Cache-Control: max-age` of `/.well-known/jwks.json`.',
    defaultText: '5m',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_TOKEN_CACHE_SIZE',
    key: 'tokenCacheSize',
    description: 'Verified access tokens remembered per process (0 turns the cache off).',
    defaultText: '10000',
    type: integer(0, 10_000_000),
  }),
  setting({
    env: 'GATEHOUSE_USER_CACHE_SIZE',
    key: 'userCacheSize',
    description:
      'Users remembered per process for at most 1 s, so authenticated requests skip the database (0 turns the cache off, e.g. when other software edits users in the database).',
    defaultText: '10000',
    type: integer(0, 10_000_000),
  }),
];
