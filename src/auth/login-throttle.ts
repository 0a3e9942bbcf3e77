/**
 * Failed-login throttling (NIST SP 800-63B §5.2.2, OWASP Authentication Cheat Sheet): a growing
 * back-off per login (as typed) and client IP, a slow-down per account that never locks it, and a
 * cap of 100 failures in a row. Unknown logins are throttled exactly like accounts, and a
 * username and its email like two unknown logins, so the answers never tell whether an account
 * exists or which names are one account (short of the account-wide thresholds).
 *
 * The numbers live in rate-limiter-flexible's store, from the same LimiterFactory as the per-IP
 * limits: process memory, or Redis shared by every process (with memory while Redis is down).
 * Every decision, though, compares timestamps taken from the injected clock: the library's own
 * windows run on Date.now() and Redis TTLs, which no test can move. TTLs here only collect garbage.
 */
import { createHash } from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Clock } from '../clock.ts';
import { type AuditEvent, recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import { clientAddressKey } from './client-address.ts';
import { LoginThrottledError } from './errors.ts';
import type { LimiterFactory } from './rate-limits.ts';

/** Failures count within this window, anchored at the first one (rate-limiter-flexible's fixed window). */
export const THROTTLE_WINDOW_MS = 15 * 60_000;
/** The first block of an account+IP pair; each further block doubles it, up to the maximum. */
export const PAIR_BLOCK_FIRST_MS = 60_000;
export const PAIR_BLOCK_MAX_MS = 15 * 60_000;
/** A slowed account gets one attempt per slot from clients that have failed on it. */
export const ACCOUNT_SLOT_MS = 60_000;
/** NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one account. */
export const MAX_CONSECUTIVE_FAILURES = 100;
export const CONSECUTIVE_COOLDOWN_MS = 15 * 60_000;
/** How long a run of failures is remembered, counted from its first failure. */
const STREAK_KEPT_MS = 7 * 86_400_000;

export interface LoginThrottleOptions {
  /** Failures of one account from one IP within the window before that pair is blocked. */
  readonly maxFailures: number;
  /** Failures of one account from all IPs within the window before it is slowed; null: never. */
  readonly accountMaxFailures: number | null;
  /** IPv6 clients are counted by their network of this many bits (see `clientAddressKey`); default 64. */
  readonly ipv6PrefixBits?: number;
}

/** One password attempt: the account it names and where it comes from. */
export interface LoginAttempt {
  /** The account's id when the login names one. */
  readonly userId: string | null;
  /** The login as typed, normalised: the pair's key, and the account's when no account has it. */
  readonly loginKey: string;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** Count the pair by the login alone, whatever the address (second-step codes). */
  readonly anyAddress?: boolean;
}

export interface LoginThrottle {
  /** Before any hash: throws LoginThrottledError (429) when this attempt may not check a password now. */
  admit(attempt: LoginAttempt): Promise<void>;
  /** After a wrong password: counts it, and starts a block when one is due. */
  recordFailure(attempt: LoginAttempt): Promise<void>;
  /** After a right password: forgets the pair's failures and the account's run of failures. */
  recordSuccess(attempt: LoginAttempt): Promise<void>;
}

export const noLoginThrottle: LoginThrottle = {
  admit: async () => {},
  recordFailure: async () => {},
  recordSuccess: async () => {},
};

/** Integers by key over a rate-limiter-flexible store: its points are the values. */
interface Numbers {
  read(key: string): Promise<number | undefined>;
  /** Adds one atomically (a Redis INCRBY when shared) and returns the new value. */
  increment(key: string, keepMs: number): Promise<number>;
  write(key: string, value: number, keepMs: number): Promise<void>;
  remove(keys: readonly string[]): Promise<void>;
}

function numbersIn(limiter: RateLimiterAbstract): Numbers {
  // A minute's margin: a key must outlive the decision that reads it, whichever clock runs faster.
  const keepSeconds = (ms: number) => Math.ceil(ms / 1000) + 60;
  return {
    read: async (key) => (await limiter.get(key))?.consumedPoints,
    increment: async (key, keepMs) =>
      (await limiter.penalty(key, 1, { customDuration: keepSeconds(keepMs) })).consumedPoints,
    write: async (key, value, keepMs) => {
      await limiter.set(key, value, keepSeconds(keepMs));
    },
    remove: async (keys) => {
      await Promise.all(keys.map((key) => limiter.delete(key)));
    },
  };
}

export function blockDurationMs(level: number): number {
  return Math.min(PAIR_BLOCK_FIRST_MS * 2 ** Math.min(level, 30), PAIR_BLOCK_MAX_MS);
}

export function createLoginThrottle(deps: {
  createLimiter: LimiterFactory;
  store: Store;
  clock: Clock;
  options: LoginThrottleOptions;
}): LoginThrottle {
  const { store, clock, options } = deps;
  const numbers = numbersIn(
    // Only get/set/penalty/delete are used, never consume, so `points` plays no part.
    deps.createLimiter({ keyPrefix: 'lt', points: 1, durationSeconds: THROTTLE_WINDOW_MS / 1000 }),
  );

  function keysOf(attempt: LoginAttempt): { account: string; pair: string } {
    // Hashed: a login typed by mistake may be a password, and must not sit in Redis as typed.
    const hash = (value: string) => createHash('sha256').update(value).digest('base64url');
    const typed = hash(`login:${attempt.loginKey}`);
    const account = attempt.userId !== null ? hash(`user:${attempt.userId}`) : typed;
    // The pair counts the login as typed, not the account it names: a username and its email then
    // behave like two unknown logins, so a blocked pair does not tell that they are one account.
    const client = attempt.anyAddress ? 'any' : clientAddressKey(attempt.ip, options.ipv6PrefixBits ?? 64);
    return { account: `a:${account}`, pair: `p:${typed}:${client}` };
  }

  async function failuresInWindow(base: string, now: number): Promise<number> {
    const start = await numbers.read(`${base}:start`);
    if (start === undefined || now >= start + THROTTLE_WINDOW_MS) return 0;
    return (await numbers.read(`${base}:n:${start}`)) ?? 0;
  }

  async function countFailure(base: string, now: number): Promise<{ count: number; start: number }> {
    let start = await numbers.read(`${base}:start`);
    if (start === undefined || now >= start + THROTTLE_WINDOW_MS) {
      // Two processes opening a window at once may split its count; it errs by one request each.
      start = now;
      await numbers.write(`${base}:start`, start, THROTTLE_WINDOW_MS);
    }
    return { count: await numbers.increment(`${base}:n:${start}`, THROTTLE_WINDOW_MS), start };
  }

  /** A pair blocked until `until` is on probation for a window after it: its next failure blocks again. */
  const onProbation = (until: number | undefined, now: number): until is number =>
    until !== undefined && now < until + THROTTLE_WINDOW_MS;

  function audit(
    event: 'login.blocked' | 'login.unblocked',
    attempt: LoginAttempt,
    now: number,
    details: NonNullable<AuditEvent['details']>,
  ): Promise<void> {
    return recordAuditEvent(store.db, {
      event,
      at: now,
      userId: attempt.userId,
      ip: attempt.ip,
      userAgent: attempt.userAgent,
      details,
    });
  }

  async function blockPair(attempt: LoginAttempt, pair: string, level: number, now: number): Promise<void> {
    const blockMs = blockDurationMs(level);
    const until = now + blockMs;
    const keepMs = blockMs + THROTTLE_WINDOW_MS;
    await Promise.all([
      numbers.write(`${pair}:until`, until, keepMs),
      numbers.write(`${pair}:level`, level, keepMs),
    ]);
    await audit('login.blocked', attempt, now, {
      scope: 'pair',
      reason: level === 0 ? 'failures' : 'failed_after_block',
      until: new Date(until).toISOString(),
      block_seconds: blockMs / 1000,
    });
  }

  return {
    async admit(attempt) {
      const now = clock.now();
      const { account, pair } = keysOf(attempt);
      const [streak, cooldownUntil, until] = await Promise.all([
        numbers.read(`${account}:streak`),
        numbers.read(`${account}:cooldown`),
        numbers.read(`${pair}:until`),
      ]);
      let waitMs = 0;
      if ((streak ?? 0) >= MAX_CONSECUTIVE_FAILURES && cooldownUntil !== undefined) {
        waitMs = cooldownUntil - now;
      }
      if (until !== undefined) waitMs = Math.max(waitMs, until - now);
      if (waitMs > 0) throw new LoginThrottledError(waitMs / 1000);

      if (options.accountMaxFailures === null) return;
      const [accountFailures, pairFailures] = await Promise.all([
        failuresInWindow(account, now),
        failuresInWindow(pair, now),
      ]);
      if (accountFailures < options.accountMaxFailures) return;
      // A slowed account is never locked: a client that has not failed on it still gets its
      // attempt; only clients that have failed share one attempt per slot.
      if (pairFailures === 0 && !onProbation(until, now)) return;
      const slot = Math.floor(now / ACCOUNT_SLOT_MS);
      if ((await numbers.increment(`${account}:slot:${slot}`, ACCOUNT_SLOT_MS)) > 1) {
        throw new LoginThrottledError(((slot + 1) * ACCOUNT_SLOT_MS - now) / 1000);
      }
    },

    async recordFailure(attempt) {
      const now = clock.now();
      const { account, pair } = keysOf(attempt);
      const [until, level] = await Promise.all([
        numbers.read(`${pair}:until`),
        numbers.read(`${pair}:level`),
      ]);
      if (onProbation(until, now)) {
        await blockPair(attempt, pair, (level ?? 0) + 1, now);
      } else if ((await countFailure(pair, now)).count >= options.maxFailures) {
        await blockPair(attempt, pair, 0, now);
      }

      if (options.accountMaxFailures !== null) {
        const { count, start } = await countFailure(account, now);
        // Exactly one process sees the count reach the threshold: one event per slow-down.
        if (count === options.accountMaxFailures) {
          await audit('login.blocked', attempt, now, {
            scope: 'account',
            reason: 'failures_from_all_ips',
            until: new Date(start + THROTTLE_WINDOW_MS).toISOString(),
            failures: count,
          });
        }
      }

      const streak = await numbers.increment(`${account}:streak`, STREAK_KEPT_MS);
      if (streak >= MAX_CONSECUTIVE_FAILURES) {
        const cooldownUntil = now + CONSECUTIVE_COOLDOWN_MS;
        await numbers.write(`${account}:cooldown`, cooldownUntil, CONSECUTIVE_COOLDOWN_MS);
        await audit('login.blocked', attempt, now, {
          scope: 'account',
          reason: 'consecutive_failures',
          until: new Date(cooldownUntil).toISOString(),
          failures: streak,
        });
      }
    },

    async recordSuccess(attempt) {
      const now = clock.now();
      const { account, pair } = keysOf(attempt);
      const [until, start, streak] = await Promise.all([
        numbers.read(`${pair}:until`),
        numbers.read(`${pair}:start`),
        numbers.read(`${account}:streak`),
      ]);
      await numbers.remove([
        `${pair}:until`,
        `${pair}:level`,
        `${pair}:start`,
        ...(start === undefined ? [] : [`${pair}:n:${start}`]),
        `${account}:streak`,
        `${account}:cooldown`,
      ]);
      if (onProbation(until, now)) {
        await audit('login.unblocked', attempt, now, { scope: 'pair', reason: 'success' });
      }
      if ((streak ?? 0) >= MAX_CONSECUTIVE_FAILURES) {
        await audit('login.unblocked', attempt, now, { scope: 'account', reason: 'success' });
      }
    },
  };
}
