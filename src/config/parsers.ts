/**
 * The kinds of value a setting takes. Each kind reads an environment string and checks a typed
 * plugin option by the same rule, so both give the same value and the same message.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { RateLimit } from './types.ts';

/** A setting's value breaks its rule; the loader prefixes the variable or option it came from. */
export class SettingError extends Error {
  override readonly name = 'SettingError';
  /** The variable read, when it is not the row's own name (`PORT`, one of a family of names). */
  readonly variable: string | undefined;
  constructor(message: string, variable?: string) {
    super(message);
    this.variable = variable;
  }
}

/** How a setting is written: as an environment string, and as a plugin option. */
export interface ValueType<T> {
  /** A non-empty environment string to the value. */
  readonly parse: (raw: string) => T;
  /** A plugin option (never undefined or '': those are unset) to the value. */
  readonly accept: (value: unknown) => T;
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

const isSeconds = (value: unknown): value is number => Number.isSafeInteger(value) && Number(value) > 0;

/** A plugin option of seconds: the rule of parseDurationSeconds, for a number. */
function acceptSeconds(value: unknown): number {
  if (!Number.isSafeInteger(value)) throw new SettingError('must be a whole number of seconds');
  if (!isSeconds(value)) throw new SettingError('must be greater than zero');
  return value;
}

export function integer(min: number, max: number): ValueType<number> {
  const message = `must be a whole number from ${min} to ${max}`;
  const inRange = wholeNumberIn(min, max);
  return {
    parse: (raw) => {
      const value = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
      if (!inRange(value)) throw new SettingError(message);
      return value;
    },
    accept: (value) => {
      if (!inRange(value)) throw new SettingError(message);
      return value;
    },
  };
}

function wholeNumberIn(min: number, max: number) {
  return (value: unknown): value is number =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Seconds: `15m` in the environment, `900` as an option. */
export const duration: ValueType<number> = { parse: parseDurationSeconds, accept: acceptSeconds };

/** Seconds as `duration`, where `0` (exactly) turns the feature off. */
export const durationOrZero: ValueType<number> = {
  parse: (raw) => (raw === '0' ? 0 : parseDurationSeconds(raw)),
  accept: (value) => (value === 0 ? 0 : acceptSeconds(value)),
};

/** Seconds as `duration`, or none (null): `none` in the environment (`off` too), null as an option. */
export const durationOrNone: ValueType<number | null> = {
  parse: (raw) => {
    const value = raw.trim();
    return value === 'none' || value === 'off' ? null : parseDurationSeconds(value);
  },
  accept: (value) => (value === null ? null : acceptSeconds(value)),
};

const isRatePoints = wholeNumberIn(1, 1_000_000);

/** `<requests>/<duration>` or `off` in the environment; `{ points, durationSeconds }` or null as an option. */
export const rateLimit: ValueType<RateLimit | null> = {
  parse: (raw) => {
    const value = raw.trim();
    if (value === 'off') return null;
    const match = /^(\d+)\/(.+)$/.exec(value);
    const points = Number(match?.[1]);
    if (!match?.[2] || !isRatePoints(points)) {
      throw new SettingError('must be <requests>/<duration> such as 10/1m, or off');
    }
    return { points, durationSeconds: parseDurationSeconds(match[2]) };
  },
  accept: (value) => {
    if (value === null) return null;
    const given = typeof value === 'object' && value !== null ? value : {};
    const points = 'points' in given ? given.points : undefined;
    const durationSeconds = 'durationSeconds' in given ? given.durationSeconds : undefined;
    if (!isRatePoints(points) || !isSeconds(durationSeconds)) {
      throw new SettingError(
        'must be { points, durationSeconds } (points from 1 to 1000000, whole seconds above zero), or null',
      );
    }
    return { points, durationSeconds };
  },
};

/** A whole number from `min` to `max`, or none (null): `off` in the environment, null as an option. */
export function countOrOff(min: number, max: number): ValueType<number | null> {
  const message = `must be a whole number from ${min} to ${max}, or`;
  const inRange = wholeNumberIn(min, max);
  return {
    parse: (raw) => {
      const value = raw.trim();
      if (value === 'off') return null;
      const count = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (!inRange(count)) throw new SettingError(`${message} off`);
      return count;
    },
    accept: (value) => {
      if (value === null) return null;
      if (!inRange(value)) throw new SettingError(`${message} null`);
      return value;
    },
  };
}

export function oneOf<const T extends string>(values: readonly T[]): ValueType<T> {
  const isValue = (value: unknown): value is T => (values as readonly unknown[]).includes(value);
  const accept = (value: unknown): T => {
    if (!isValue(value)) throw new SettingError(`must be one of ${values.join(', ')}`);
    return value;
  };
  return { parse: accept, accept };
}

/** `true`/`1` or `false`/`0` in the environment; a boolean as an option. */
export const flag: ValueType<boolean> = {
  parse: (raw) => {
    const value = raw.trim().toLowerCase();
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    throw new SettingError('must be true or false');
  },
  accept: acceptBoolean,
};

/** `on`/`true` or `off`/`false` in the environment; a boolean as an option. */
export const onOff: ValueType<boolean> = {
  parse: (raw) => {
    const value = raw.trim().toLowerCase();
    if (value === 'on' || value === 'true') return true;
    if (value === 'off' || value === 'false') return false;
    throw new SettingError('must be on or off');
  },
  accept: acceptBoolean,
};

function acceptBoolean(value: unknown): boolean {
  if (typeof value !== 'boolean') throw new SettingError('must be true or false');
  return value;
}

/** A string, kept as written unless `rule` (which throws SettingError) says otherwise. */
export function text(rule: (value: string) => string = (value) => value): ValueType<string> {
  return {
    parse: rule,
    accept: (value) => {
      if (typeof value !== 'string') throw new SettingError('must be a string');
      return rule(value);
    },
  };
}

/** Comma-separated in the environment, an array of strings as an option; each entry trimmed, then `entry`. */
export function list(entry: (trimmed: string) => string): ValueType<readonly string[]> {
  return {
    parse: (raw) => raw.split(',').map((item) => entry(item.trim())),
    accept: (value) => {
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
        throw new SettingError('must be an array of strings');
      return value.map((item: string) => entry(item.trim()));
    },
  };
}

/** A name people read (titles, buttons): trimmed, at most `maxLength` characters, no control characters. */
export function displayName(maxLength: number): (raw: string) => string {
  return (raw) => {
    const value = raw.trim();
    if (value.length > maxLength || /\p{Cc}/u.test(value))
      throw new SettingError(`must be at most ${maxLength} characters, no control characters`);
    return value;
  };
}

/** Printable ASCII without spaces, `min` to `max` characters (ids, tokens); `message` never repeats it. */
export function visibleAscii(min: number, max: number, message: string): (value: string) => string {
  const pattern = new RegExp(`^[\\x21-\\x7e]{${min},${max}}$`);
  return (value) => {
    if (!pattern.test(value)) throw new SettingError(message);
    return value;
  };
}

export function httpUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
    return raw.replace(/\/+$/, '');
  } catch {
    throw new SettingError('must be an absolute http(s) URL');
  }
}

/** A URL of another service (Redis, SMTP) with one of `protocols`; kept as written. */
export function serviceUrl(
  protocols: readonly string[],
  message: string,
  options: { requireHost?: boolean } = {},
) {
  return (value: string): string => {
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

/** A proxy for X-Forwarded-For: an IP, a CIDR, or proxy-addr's names (loopback, linklocal, uniquelocal). */
export function proxyAddress(trimmed: string): string {
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
}

export function origin(trimmed: string): string {
  try {
    const parsed = new URL(trimmed);
    if (parsed.origin !== trimmed) throw new Error();
  } catch {
    throw new SettingError(`has "${trimmed}", which is not an origin like https://app.example.com`);
  }
  return trimmed;
}

export function existingDirectory(value: string): string {
  if (!existsSync(value)) throw new SettingError('must be an existing directory');
  return value;
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
