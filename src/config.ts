/**
 * Environment → typed, validated, frozen Config. The only module that reads `process.env`.
 * Every setting is one row of SETTINGS; docs/settings.md is generated from it (`npm run docs:settings`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { parse as parseDotenv } from 'dotenv';
import {
  EXTERNAL_SETTINGS,
  ExternalSettingError,
  type ExternalSettings,
  isOidcProviderVariable,
  oidcProvidersToEnv,
  parseOidcProviders,
} from './auth/external/settings.ts';

export type JwtAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config extends ExternalSettings {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly databasePoolMax: number;
  readonly databaseStatementTimeoutSeconds: number;
  readonly databaseConnectTimeoutSeconds: number;
  readonly sqliteSynchronous: 'normal' | 'full';
  readonly issuer: string;
  readonly audience: string;
  readonly publicUrl: string;
  readonly appName: string;
  readonly pages: boolean;
  readonly jwtAlg: JwtAlgorithm;
  readonly jwtSecret: string | undefined;
  readonly accessTokenTtlSeconds: number;
  readonly passwordMinLength: number;
  readonly registration: 'open' | 'closed';
  readonly argon2MemoryKib: number;
  readonly argon2Iterations: number;
  readonly argon2Parallelism: number;
  readonly hashConcurrency: number;
  readonly hashQueueMax: number;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly trustProxy: readonly string[];
  readonly rateLimitToken: RateLimit | null;
  readonly rateLimitLogin: RateLimit | null;
  readonly rateLimitRegister: RateLimit | null;
  readonly rateLimitBasic: RateLimit | null;
  readonly loginMaxFailures: number | null;
  readonly loginAccountMaxFailures: number | null;
  readonly rateLimitMail: RateLimit | null;
  readonly rateLimitMailAddress: RateLimit | null;
  readonly rateLimitIpv6Prefix: number;
  readonly rateLimitMailAddressIp: RateLimit | null;
  readonly adminUsername: string | undefined;
  readonly adminEmail: string | undefined;
  readonly adminPassword: string | undefined;
  readonly corsOrigins: readonly string[];
  readonly logLevel: LogLevel;
  readonly logFile: string | undefined;
  readonly logFormat: 'pretty' | 'json' | 'auto';
  readonly metrics: 'on' | 'off';
  readonly metricsToken: string | undefined;
  readonly jwksMaxAgeSeconds: number;
  readonly tokenCacheSize: number;
  readonly userCacheSize: number;
  readonly sessionTtlSeconds: number;
  readonly sessionIdleTtlSeconds: number;
  readonly reauthMaxAgeSeconds: number;
  readonly refreshReuseGraceSeconds: number;
  readonly keyRotationDays: number;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly outboxDir: string;
  readonly mailTemplatesDir: string | undefined;
  readonly requireVerifiedEmail: boolean;
  readonly verifyTokenTtlSeconds: number;
  readonly resetTokenTtlSeconds: number;
  readonly magicLinkTtlSeconds: number;
  readonly magicLinkSignup: boolean;
  readonly apiKeyTtlSeconds: number;
  /** Null: keys may be created without expiry. */
  readonly apiKeyMaxTtlSeconds: number | null;
}

interface Setting {
  readonly env: string;
  readonly key: keyof Config;
  readonly description: string;
  /** Shown in docs/settings.md; `undefined` means unset. */
  readonly defaultText: string;
  readonly parse: (raw: string | undefined, partial: Partial<Record<keyof Config, unknown>>) => unknown;
}

class SettingError extends Error {
  override readonly name = 'SettingError';
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Whole seconds (`900`) or a number with a unit (`15m`, `10s`, `30d`). */
export function parseDurationSeconds(raw: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(raw.trim());
  if (!match) throw new SettingError('must be whole seconds or a number with a unit s, m, h or d (e.g. 15m)');
  const value = Number(match[1]) * (DURATION_UNITS[match[2] || 's'] ?? 1);
  if (value <= 0) throw new SettingError('must be greater than zero');
  return value;
}

function integer(min: number, max: number, fallback: number) {
  return (raw: string | undefined): number => {
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim())) throw new SettingError(`must be a whole number from ${min} to ${max}`);
    const value = Number(raw);
    if (value < min || value > max) throw new SettingError(`must be a whole number from ${min} to ${max}`);
    return value;
  };
}

function duration(fallback: string) {
  return (raw: string | undefined): number =>
    parseDurationSeconds(raw === undefined || raw === '' ? fallback : raw);
}

/** At most `points` requests per `durationSeconds` from one client IP. */
export interface RateLimit {
  readonly points: number;
  readonly durationSeconds: number;
}

function rateLimit(fallback: string) {
  return (raw: string | undefined): RateLimit | null => {
    const value = raw === undefined || raw === '' ? fallback : raw.trim();
    if (value === 'off') return null;
    const match = /^(\d+)\/(.+)$/.exec(value);
    const points = Number(match?.[1]);
    if (!match?.[2] || !Number.isInteger(points) || points < 1 || points > 1_000_000) {
      throw new SettingError('must be <requests>/<duration> such as 10/1m, or off');
    }
    return { points, durationSeconds: parseDurationSeconds(match[2]) };
  };
}

/** Proxy addresses for X-Forwarded-For: IPs, CIDRs, or proxy-addr's names (loopback, linklocal, uniquelocal). */
function proxyList(raw: string | undefined): readonly string[] {
  const value = optional(raw);
  if (value === undefined) return [];
  return value.split(',').map((entry) => {
    const trimmed = entry.trim();
    const [address, bits, extra] = trimmed.split('/');
    const named = ['loopback', 'linklocal', 'uniquelocal'].includes(trimmed);
    const version = isIP(address ?? '');
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (version === 6 ? 128 : 32));
    if (!named && (version === 0 || !bitsOk || extra !== undefined)) {
      throw new SettingError(
        `"${trimmed}" is not an IP address, a CIDR range, loopback, linklocal or uniquelocal`,
      );
    }
    return trimmed;
  });
}

/** A whole number from `min` to `max`, or `off` (null). */
function countOrOff(min: number, max: number, fallback: number) {
  return (raw: string | undefined): number | null => {
    const value = raw === undefined || raw === '' ? String(fallback) : raw.trim();
    if (value === 'off') return null;
    const count = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!(count >= min && count <= max))
      throw new SettingError(`must be a whole number from ${min} to ${max}, or off`);
    return count;
  };
}

function oneOf<T extends string>(values: readonly T[], fallback: T) {
  return (raw: string | undefined): T => {
    if (raw === undefined || raw === '') return fallback;
    if (!(values as readonly string[]).includes(raw))
      throw new SettingError(`must be one of ${values.join(', ')}`);
    return raw as T;
  };
}

function flag(raw: string | undefined): boolean {
  if (raw === undefined || raw === '') return false;
  const value = raw.trim().toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new SettingError('must be true or false');
}

/** The SMTP URL with its password replaced, for logs. */
export function maskSmtpUrl(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

function optional(raw: string | undefined): string | undefined {
  return raw === undefined || raw === '' ? undefined : raw;
}

function url(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
    return raw.replace(/\/+$/, '');
  } catch {
    throw new SettingError('must be an absolute http(s) URL');
  }
}

/** An optional URL of another service (Redis, SMTP) with one of `protocols`; kept as written. */
function optionalServiceUrl(
  protocols: readonly string[],
  message: string,
  options: { requireHost?: boolean } = {},
) {
  return (raw: string | undefined): string | undefined => {
    const value = optional(raw);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new SettingError(message);
    }
    if (!protocols.includes(parsed.protocol) || (options.requireHost && parsed.hostname === '')) {
      throw new SettingError(message);
    }
    return value;
  };
}

export const SETTINGS: readonly Setting[] = [
  {
    env: 'GATEHOUSE_HOST',
    key: 'host',
    description: 'Interface the server listens on.',
    defaultText: '127.0.0.1',
    parse: (raw) => optional(raw) ?? '127.0.0.1',
  },
  {
    env: 'GATEHOUSE_PORT',
    key: 'port',
    description:
      'TCP port the server listens on (0 picks a free port). When unset, `PORT` is used if set (hosting platforms set it).',
    defaultText: '8000',
    parse: integer(0, 65535, 8000),
  },
  {
    env: 'GATEHOUSE_DATABASE_URL',
    key: 'databaseUrl',
    description: '`sqlite:<path>`, `sqlite::memory:` or `postgres://user@host:port/db`.',
    defaultText: 'sqlite:./data/gatehouse.db',
    parse: (raw) => {
      const value = optional(raw) ?? 'sqlite:./data/gatehouse.db';
      if (/^sqlite:\s*$/.test(value)) {
        throw new SettingError(
          'names no file: use sqlite:<path> (e.g. sqlite:./data/gatehouse.db) or sqlite::memory:',
        );
      }
      if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(value)) {
        throw new SettingError('must start with sqlite: or postgres://');
      }
      return value;
    },
  },
  {
    env: 'GATEHOUSE_DATABASE_POOL_MAX',
    key: 'databasePoolMax',
    description:
      "PostgreSQL connections per process. Every process opens up to this many: keep processes × this below the server's `max_connections`.",
    defaultText: '10',
    parse: integer(1, 1000, 10),
  },
  {
    env: 'GATEHOUSE_DATABASE_STATEMENT_TIMEOUT',
    key: 'databaseStatementTimeoutSeconds',
    description:
      'Longest a query may take: PostgreSQL cancels it (`statement_timeout`) and Gatehouse stops waiting, answering 503; on SQLite, the longest wait for a lock held by another process. Migrations are exempt.',
    defaultText: '2s',
    parse: duration('2s'),
  },
  {
    env: 'GATEHOUSE_DATABASE_CONNECT_TIMEOUT',
    key: 'databaseConnectTimeoutSeconds',
    description: 'PostgreSQL: longest wait for a connection, new or from a busy pool, before answering 503.',
    defaultText: '2s',
    parse: duration('2s'),
  },
  {
    env: 'GATEHOUSE_SQLITE_SYNCHRONOUS',
    key: 'sqliteSynchronous',
    description:
      'SQLite durability (WAL mode): `normal` keeps every answered write through a crash or kill of the process; `full` also through a power loss, at ~2 ms of fsync per commit.',
    defaultText: 'normal',
    parse: oneOf(['normal', 'full'] as const, 'normal'),
  },
  {
    env: 'GATEHOUSE_ISSUER',
    key: 'issuer',
    description: 'The `iss` claim and the base of the discovery URLs.',
    defaultText: 'http://<host>:<port>',
    parse: (raw, partial) => {
      const value = optional(raw);
      if (value !== undefined) return url(value);
      const host = partial.host === '0.0.0.0' || partial.host === '::' ? '127.0.0.1' : String(partial.host);
      const shownHost = host.includes(':') ? `[${host}]` : host;
      return `http://${shownHost}:${String(partial.port)}`;
    },
  },
  {
    env: 'GATEHOUSE_AUDIENCE',
    key: 'audience',
    description: 'The `aud` claim of access tokens, required when verifying.',
    defaultText: 'the issuer',
    parse: (raw, partial) => optional(raw) ?? partial.issuer,
  },
  {
    env: 'GATEHOUSE_PUBLIC_URL',
    key: 'publicUrl',
    description: 'The base of every link Gatehouse sends by email or redirects a browser to.',
    defaultText: 'the issuer',
    parse: (raw, partial) => {
      const value = optional(raw);
      return (value === undefined ? String(partial.issuer) : url(value)).replace(/\/+$/, '');
    },
  },
  {
    env: 'GATEHOUSE_APP_NAME',
    key: 'appName',
    description: 'The name shown in page titles and emails.',
    defaultText: 'Gatehouse',
    parse: (raw) => {
      const value = optional(raw)?.trim();
      if (value === undefined) return 'Gatehouse';
      if (value.length > 80 || /\p{Cc}/u.test(value))
        throw new SettingError('must be at most 80 characters, no control characters');
      return value;
    },
  },
  {
    env: 'GATEHOUSE_PAGES',
    key: 'pages',
    description:
      'The hosted HTML pages (`/login`, `/register`, `/account`, …): `on` or `off` (an embedding app with its own pages).',
    defaultText: 'on',
    parse: (raw) => {
      const value = optional(raw)?.trim().toLowerCase() ?? 'on';
      if (value === 'on' || value === 'true') return true;
      if (value === 'off' || value === 'false') return false;
      throw new SettingError('must be on or off');
    },
  },
  {
    env: 'GATEHOUSE_JWT_ALG',
    key: 'jwtAlg',
    description: 'Access-token signature algorithm: `EdDSA` (Ed25519), `ES256`, `RS256` or `HS256`.',
    defaultText: 'EdDSA',
    parse: oneOf(['EdDSA', 'ES256', 'RS256', 'HS256'] as const, 'EdDSA'),
  },
  {
    env: 'GATEHOUSE_JWT_SECRET',
    key: 'jwtSecret',
    description: 'Shared secret for HS256, at least 32 bytes. Required with HS256, refused otherwise.',
    defaultText: '(unset)',
    parse: (raw, partial) => {
      const value = optional(raw);
      if (partial.jwtAlg === 'HS256') {
        if (value === undefined) throw new SettingError('is required when GATEHOUSE_JWT_ALG=HS256');
        if (Buffer.byteLength(value, 'utf8') < 32) throw new SettingError('must be at least 32 bytes');
        if (/^(change-?me|secret|your-secret-key)/i.test(value))
          throw new SettingError('must not be a placeholder');
      } else if (value !== undefined) {
        throw new SettingError('is only used with GATEHOUSE_JWT_ALG=HS256; unset it or choose HS256');
      }
      return value;
    },
  },
  {
    env: 'GATEHOUSE_ACCESS_TOKEN_TTL',
    key: 'accessTokenTtlSeconds',
    description: 'Lifetime of access tokens.',
    defaultText: '15m',
    parse: duration('15m'),
  },
  {
    env: 'GATEHOUSE_SESSION_TTL',
    key: 'sessionTtlSeconds',
    description: 'Absolute lifetime of a session and of its refresh tokens and cookie.',
    defaultText: '30d',
    parse: duration('30d'),
  },
  {
    env: 'GATEHOUSE_SESSION_IDLE_TTL',
    key: 'sessionIdleTtlSeconds',
    description: 'A session unused for this long ends.',
    defaultText: '7d',
    parse: duration('7d'),
  },
  {
    env: 'GATEHOUSE_REAUTH_MAX_AGE',
    key: 'reauthMaxAgeSeconds',
    description:
      'Creating an API key and changing your email or password need a password proven this recently (`auth_time`); older sessions get 401 `REAUTH_REQUIRED` and prove it again at `POST /reauthenticate`.',
    defaultText: '10m',
    parse: duration('10m'),
  },
  {
    env: 'GATEHOUSE_REFRESH_REUSE_GRACE',
    key: 'refreshReuseGraceSeconds',
    description:
      'A spent refresh token presented again within this window gets a sibling token instead of revoking the session (two tabs refreshing at once). `0` turns it off.',
    defaultText: '10s',
    parse: (raw) => (raw === '0' ? 0 : duration('10s')(raw)),
  },
  {
    env: 'GATEHOUSE_KEY_ROTATION_DAYS',
    key: 'keyRotationDays',
    description:
      'Rotate the signing key when the active one is older than this many days (checked at start and every minute). `0` turns it off.',
    defaultText: '90',
    parse: integer(0, 3650, 90),
  },
  {
    env: 'GATEHOUSE_API_KEY_TTL',
    key: 'apiKeyTtlSeconds',
    description: 'Lifetime of an API key created without `expires_in`.',
    defaultText: '90d',
    parse: duration('90d'),
  },
  {
    env: 'GATEHOUSE_API_KEY_MAX_TTL',
    key: 'apiKeyMaxTtlSeconds',
    description:
      'Longest `expires_in` an API key may ask for (at least `GATEHOUSE_API_KEY_TTL`); `none` also allows keys that never expire (`"expires_in": null`).',
    defaultText: '365d',
    parse: (raw, partial) => {
      const value = optional(raw)?.trim() ?? '365d';
      // `off` is what a plugin option of null becomes.
      if (value === 'none' || value === 'off') return null;
      const seconds = parseDurationSeconds(value);
      if (typeof partial.apiKeyTtlSeconds === 'number' && seconds < partial.apiKeyTtlSeconds) {
        throw new SettingError('must be at least GATEHOUSE_API_KEY_TTL');
      }
      return seconds;
    },
  },
  {
    env: 'GATEHOUSE_PASSWORD_MIN_LENGTH',
    key: 'passwordMinLength',
    description:
      'Minimum password length in code points (NIST SP 800-63B-4 asks 15 for password-only accounts).',
    defaultText: '8',
    parse: integer(8, 128, 8),
  },
  {
    env: 'GATEHOUSE_REGISTRATION',
    key: 'registration',
    description: '`open` lets anyone register at `POST /register`; `closed` answers 403.',
    defaultText: 'open',
    parse: oneOf(['open', 'closed'] as const, 'open'),
  },
  {
    env: 'GATEHOUSE_ARGON2_MEMORY_KIB',
    key: 'argon2MemoryKib',
    description: 'argon2id memory cost in KiB (OWASP minimum 19456).',
    defaultText: '19456',
    parse: integer(8, 4_194_304, 19456),
  },
  {
    env: 'GATEHOUSE_ARGON2_ITERATIONS',
    key: 'argon2Iterations',
    description: 'argon2id time cost (iterations).',
    defaultText: '2',
    parse: integer(1, 100, 2),
  },
  {
    env: 'GATEHOUSE_ARGON2_PARALLELISM',
    key: 'argon2Parallelism',
    description: 'argon2id lanes.',
    defaultText: '1',
    parse: integer(1, 16, 1),
  },
  {
    env: 'GATEHOUSE_HASH_CONCURRENCY',
    key: 'hashConcurrency',
    description:
      'Password hashes run at once; the rest wait in order. Keep it below the libuv threadpool size (4).',
    defaultText: 'cores, at most 3',
    parse: integer(1, 64, 0),
  },
  {
    env: 'GATEHOUSE_HASH_QUEUE_MAX',
    key: 'hashQueueMax',
    description:
      'Password hashes that may wait for a turn; beyond it `/token`, `/login` and `/register` answer 503 with `Retry-After` instead of queueing.',
    defaultText: '64',
    parse: integer(0, 100_000, 64),
  },
  {
    env: 'GATEHOUSE_REDIS_URL',
    key: 'redisUrl',
    description:
      '`redis://[user:pass@]host:port[/db]` or `rediss://…`: rate-limit counters and revocations shared by every process; unset: one process, in memory.',
    defaultText: '(unset)',
    parse: optionalServiceUrl(['redis:', 'rediss:'], 'must be a redis:// or rediss:// URL'),
  },
  {
    env: 'GATEHOUSE_REDIS_PREFIX',
    key: 'redisPrefix',
    description: 'Prefix of every Redis key and channel, so several deployments can share one Redis.',
    defaultText: 'gatehouse:',
    parse: (raw) => {
      const value = optional(raw) ?? 'gatehouse:';
      if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(value)) {
        throw new SettingError('must be 1 to 64 letters, digits or : _ . -');
      }
      return value;
    },
  },
  {
    env: 'GATEHOUSE_TRUST_PROXY',
    key: 'trustProxy',
    description:
      'Comma-separated proxies (IPs, CIDRs, `loopback`, `uniquelocal`) whose `X-Forwarded-For` gives the client IP; unset: the socket address, and the header is ignored.',
    defaultText: '(unset)',
    parse: proxyList,
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_TOKEN',
    key: 'rateLimitToken',
    description:
      'Requests per client IP to `POST /token` (both grants), as `<requests>/<duration>`, or `off`. Over it: 429 with `Retry-After`.',
    defaultText: '30/1m',
    parse: rateLimit('30/1m'),
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_LOGIN',
    key: 'rateLimitLogin',
    description: 'Requests per client IP to `POST /login` and `POST /reauthenticate`.',
    defaultText: '30/1m',
    parse: rateLimit('30/1m'),
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_REGISTER',
    key: 'rateLimitRegister',
    description: 'Requests per client IP to `POST /register`.',
    defaultText: '10/1h',
    parse: rateLimit('10/1h'),
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_BASIC',
    key: 'rateLimitBasic',
    description: 'Requests per client IP to `GET /protected/basic` (HTTP Basic checks a password each time).',
    defaultText: '30/1m',
    parse: rateLimit('30/1m'),
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_IPV6_PREFIX',
    key: 'rateLimitIpv6Prefix',
    description:
      'Per-client limits and the failed-login throttle count an IPv6 client by its network of this many bits (one subscriber gets a whole /64 or more); IPv4-mapped IPv6 counts as IPv4. 128: each address alone.',
    defaultText: '64',
    parse: integer(16, 128, 64),
  },
  {
    env: 'GATEHOUSE_LOGIN_MAX_FAILURES',
    key: 'loginMaxFailures',
    description:
      'Failed logins for one account from one client IP within 15 minutes before that pair is blocked (1 minute, doubling on each further failure up to 15). `off` turns the whole failed-login throttle off.',
    defaultText: '5',
    parse: countOrOff(1, 100, 5),
  },
  {
    env: 'GATEHOUSE_LOGIN_ACCOUNT_MAX_FAILURES',
    key: 'loginAccountMaxFailures',
    description:
      'Failed logins for one account from all IPs within 15 minutes before clients that failed get one attempt a minute between them; `off` turns this slow-down off.',
    defaultText: '20',
    parse: countOrOff(1, 100, 20),
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_MAIL',
    key: 'rateLimitMail',
    description:
      'Requests per client IP to every route that sends mail (`/verify/request`, `/forgot-password`, `/magic-link`, `PATCH /users/me`).',
    defaultText: '10/1h',
    parse: rateLimit('10/1h'),
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS',
    key: 'rateLimitMailAddress',
    description:
      'Mails asked anonymously for one address (reset, magic link) from all clients together; counted whether or not an account has it. A signed-in user asking for their own account (verification, email change) is not counted here.',
    defaultText: '20/1h',
    parse: rateLimit('20/1h'),
  },
  {
    env: 'GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS_IP',
    key: 'rateLimitMailAddressIp',
    description:
      "Mails asked for one address by one requester: one client IP, or one signed-in user for their own account, so nobody else's requests use up a user's budget.",
    defaultText: '3/1h',
    parse: rateLimit('3/1h'),
  },
  {
    env: 'GATEHOUSE_ADMIN_USERNAME',
    key: 'adminUsername',
    description: 'With the two below: an admin created at start when no user has this name.',
    defaultText: '(unset)',
    parse: optional,
  },
  {
    env: 'GATEHOUSE_ADMIN_EMAIL',
    key: 'adminEmail',
    description: 'Email of the bootstrapped admin.',
    defaultText: '(unset)',
    parse: optional,
  },
  {
    env: 'GATEHOUSE_ADMIN_PASSWORD',
    key: 'adminPassword',
    description: 'Password of the bootstrapped admin (password policy applies).',
    defaultText: '(unset)',
    parse: (raw, partial) => {
      const value = optional(raw);
      const given = [partial.adminUsername, partial.adminEmail, value].filter((v) => v !== undefined).length;
      if (given !== 0 && given !== 3) {
        throw new SettingError('GATEHOUSE_ADMIN_USERNAME, _EMAIL and _PASSWORD must be set together');
      }
      return value;
    },
  },
  {
    env: 'GATEHOUSE_CORS_ORIGINS',
    key: 'corsOrigins',
    description: 'Comma-separated origins allowed by CORS; CORS is off when unset.',
    defaultText: '(unset)',
    parse: (raw) => {
      const value = optional(raw);
      if (value === undefined) return [];
      return value.split(',').map((origin) => {
        const trimmed = origin.trim();
        try {
          const parsed = new URL(trimmed);
          if (parsed.origin !== trimmed) throw new Error();
        } catch {
          throw new SettingError(`has "${trimmed}", which is not an origin like https://app.example.com`);
        }
        return trimmed;
      });
    },
  },
  {
    env: 'GATEHOUSE_LOG_LEVEL',
    key: 'logLevel',
    description: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
    defaultText: 'info',
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  },
  {
    env: 'GATEHOUSE_LOG_FILE',
    key: 'logFile',
    description: 'Write logs to this file instead of standard output.',
    defaultText: '(stdout)',
    parse: optional,
  },
  {
    env: 'GATEHOUSE_LOG_FORMAT',
    key: 'logFormat',
    description:
      '`pretty` (one readable, coloured line per event, for people) or `json` (one JSON object per line, for log collectors). `auto`: `pretty` when standard output is a terminal, `json` otherwise.',
    defaultText: 'auto',
    parse: oneOf(['pretty', 'json', 'auto'] as const, 'auto'),
  },
  {
    env: 'GATEHOUSE_METRICS',
    key: 'metrics',
    description:
      '`on` serves Prometheus metrics at `GET /metrics` and times every request; `off` does neither.',
    defaultText: 'on',
    parse: oneOf(['on', 'off'] as const, 'on'),
  },
  {
    env: 'GATEHOUSE_METRICS_TOKEN',
    key: 'metricsToken',
    description:
      '`GET /metrics` then needs `Authorization: Bearer <this token>` (at least 16 characters); unset: open on the standalone server, absent from the embedded plugin.',
    defaultText: '(unset)',
    parse: (raw) => {
      const value = optional(raw);
      // The value is a secret: the message never repeats it.
      if (value !== undefined && !/^[\x21-\x7e]{16,256}$/.test(value)) {
        throw new SettingError('must be 16 to 256 printable ASCII characters without spaces');
      }
      return value;
    },
  },
  {
    env: 'GATEHOUSE_JWKS_MAX_AGE',
    key: 'jwksMaxAgeSeconds',
    description: '`Cache-Control: max-age` of `/.well-known/jwks.json`.',
    defaultText: '5m',
    parse: duration('5m'),
  },
  {
    env: 'GATEHOUSE_TOKEN_CACHE_SIZE',
    key: 'tokenCacheSize',
    description: 'Verified access tokens remembered per process (0 turns the cache off).',
    defaultText: '10000',
    parse: integer(0, 10_000_000, 10000),
  },
  {
    env: 'GATEHOUSE_USER_CACHE_SIZE',
    key: 'userCacheSize',
    description:
      'Users remembered per process for at most 1 s, so authenticated requests skip the database (0 turns the cache off, e.g. when other software edits users in the database).',
    defaultText: '10000',
    parse: integer(0, 10_000_000, 10000),
  },
  {
    env: 'GATEHOUSE_SMTP_URL',
    key: 'smtpUrl',
    description:
      '`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`: send mail through this server. Unset: mail is written to the outbox directory. Its password is never logged.',
    defaultText: '(unset)',
    parse: optionalServiceUrl(['smtp:', 'smtps:'], 'must be an smtp:// or smtps:// URL', {
      requireHost: true,
    }),
  },
  {
    env: 'GATEHOUSE_MAIL_FROM',
    key: 'mailFrom',
    description: 'The sender of every mail.',
    defaultText: 'Gatehouse <no-reply@localhost>',
    parse: (raw) => {
      const value = optional(raw)?.trim() ?? 'Gatehouse <no-reply@localhost>';
      if (value.length > 254 || /\p{Cc}/u.test(value) || !value.includes('@')) {
        throw new SettingError('must be an address such as "Example <no-reply@example.com>"');
      }
      return value;
    },
  },
  {
    env: 'GATEHOUSE_OUTBOX_DIR',
    key: 'outboxDir',
    description:
      'Without SMTP, each mail is written here as `<time>-<to>.eml` and its link is logged (development).',
    defaultText: './data/outbox',
    parse: (raw) => optional(raw) ?? './data/outbox',
  },
  {
    env: 'GATEHOUSE_MAIL_TEMPLATES_DIR',
    key: 'mailTemplatesDir',
    description:
      'A directory of mail templates (`<name>.subject.txt`, `<name>.txt`, `<name>.html`) that replace the built-in ones file by file.',
    defaultText: '(unset)',
    parse: (raw) => {
      const value = optional(raw);
      if (value !== undefined && !existsSync(value)) throw new SettingError('must be an existing directory');
      return value;
    },
  },
  {
    env: 'GATEHOUSE_REQUIRE_VERIFIED_EMAIL',
    key: 'requireVerifiedEmail',
    description: '`true` refuses login until the email is verified (400 `Email not verified`).',
    defaultText: 'false',
    parse: flag,
  },
  {
    env: 'GATEHOUSE_VERIFY_TOKEN_TTL',
    key: 'verifyTokenTtlSeconds',
    description: 'Lifetime of email verification and email change links.',
    defaultText: '24h',
    parse: duration('24h'),
  },
  {
    env: 'GATEHOUSE_RESET_TOKEN_TTL',
    key: 'resetTokenTtlSeconds',
    description: 'Lifetime of password reset links.',
    defaultText: '30m',
    parse: duration('30m'),
  },
  {
    env: 'GATEHOUSE_MAGIC_LINK_TTL',
    key: 'magicLinkTtlSeconds',
    description: 'Lifetime of magic sign-in links.',
    defaultText: '15m',
    parse: duration('15m'),
  },
  {
    env: 'GATEHOUSE_MAGIC_LINK_SIGNUP',
    key: 'magicLinkSignup',
    description:
      '`true`: a magic link asked for an unknown address creates the account when used (only while registration is open).',
    defaultText: 'false',
    parse: flag,
  },
  ...EXTERNAL_SETTINGS,
];

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads `.env` (when present) under the real environment, which wins. */
export function readEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  dotenvPath = '.env',
): Record<string, string | undefined> {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...env };
}

/** Validates every setting, throws one ConfigError listing every problem, returns a frozen Config. */
export function loadConfig(given: Record<string, string | undefined> = readEnvironment()): Config {
  // Hosting platforms name the port to listen on in PORT; GATEHOUSE_PORT wins when both are set.
  const portFromPort = optional(given.GATEHOUSE_PORT) === undefined && optional(given.PORT) !== undefined;
  const env = portFromPort ? { ...given, GATEHOUSE_PORT: given.PORT } : given;
  const partial: Partial<Record<keyof Config, unknown>> = {};
  const problems: string[] = [];
  const known = new Set(SETTINGS.map((s) => s.env));
  for (const setting of SETTINGS) {
    try {
      partial[setting.key] = setting.parse(env[setting.env], partial);
    } catch (error) {
      if (!(error instanceof SettingError || error instanceof ExternalSettingError)) throw error;
      const name = setting.env === 'GATEHOUSE_PORT' && portFromPort ? 'PORT' : setting.env;
      problems.push(`${name} ${error.message}`);
    }
  }
  partial.oidcProviders = parseOidcProviders(env, problems);
  for (const name of Object.keys(env)) {
    if (
      name.startsWith('GATEHOUSE_') &&
      !name.startsWith('GATEHOUSE_TEST_') &&
      !known.has(name) &&
      !isOidcProviderVariable(name)
    ) {
      problems.push(`${name} is not a Gatehouse setting (see docs/settings.md)`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (partial.hashConcurrency === 0) partial.hashConcurrency = defaultHashConcurrency();
  return Object.freeze(partial) as Config;
}

function defaultHashConcurrency(): number {
  // One hash per core at most: more only thrashes the caches (argon2id's 19 MiB each) and takes
  // the event loop's share; and always one threadpool thread left for everything else.
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  return Math.max(1, Math.min(availableParallelism(), threadpool - 1));
}

/** Options for the embedded plugin: the settings by their Config names (`databaseUrl`, `issuer`, …). */
export type GatehouseOptions = { readonly [K in keyof Config]?: Config[K] | undefined };

/**
 * Validates plugin options exactly as the environment is validated, without reading it.
 * A bad or unknown option is a developer's mistake: a TypeError naming it.
 */
export function configFromOptions(options: GatehouseOptions): Config {
  const byKey = new Map(SETTINGS.map((setting) => [setting.key as string, setting]));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'oidcProviders') {
      if (value !== undefined) Object.assign(env, oidcProvidersToEnv(value));
      continue;
    }
    const setting = byKey.get(key);
    if (setting === undefined) throw new TypeError(`gatehouse: unknown option "${key}"`);
    if (value === undefined) continue;
    env[setting.env] = Array.isArray(value)
      ? value.join(',')
      : value === null
        ? 'off'
        : typeof value === 'object' && 'points' in value
          ? `${value.points}/${value.durationSeconds}`
          : String(value);
  }
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const named = error.problems.map((problem) => {
      const setting = SETTINGS.find((s) => problem.startsWith(s.env));
      return setting ? problem.replace(setting.env, `option "${setting.key}"`) : problem;
    });
    throw new TypeError(`gatehouse: ${named.join('; ')}`);
  }
}
