/**
 * Per-client-IP request limits for the routes that check passwords or create accounts. Counters
 * come from rate-limiter-flexible; this in-process store serves one process, and the interface
 * is what a shared (Redis) store implements for several.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Config, RateLimit } from '../config.ts';
import { clientAddressKey } from './client-address.ts';
import { RateLimitedError } from './errors.ts';

export type RateLimitedRoute = 'token' | 'login' | 'register' | 'basic' | 'mail';

/**
 * The per-route limits, plus the per-address limits on mail: loose for an address from all
 * clients together, tight for an address from one requester (a client IP, or a signed-in user).
 */
export type RateLimitName = RateLimitedRoute | 'mail_address' | 'mail_address_ip';

/**
 * Who asks for a mail: an anonymous client, by IP, or a signed-in user asking for their own
 * account (verification, email change), whose budget anonymous requests cannot use up.
 */
export type MailRequester = { readonly ip: string | null } | { readonly userId: string };

export interface RateLimits {
  /**
   * Counts one request from `ip` to `route`; throws RateLimitedError (429) when over the limit.
   * Counted by `clientAddressKey`: every spelling of an address, and an IPv6 network, is one client.
   */
  consume(route: RateLimitedRoute, ip: string): Promise<void>;
  /**
   * Counts one mail asked for `address` (any case) by `requester`; throws RateLimitedError when
   * over. An anonymous request counts for the (address, IP) pair, then for the address; a
   * signed-in user's only for the (address, user) pair. Keyed by hashes, so addresses never
   * reach the counters' store.
   */
  consumeMailAddress(address: string, requester: MailRequester): Promise<void>;
}

export interface LimiterOptions {
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  readonly blockDurationSeconds?: number;
}

/** Builds one rate-limiter-flexible counter; the store behind it is the factory's choice. */
export type LimiterFactory = (options: LimiterOptions) => RateLimiterAbstract;

export const memoryLimiters: LimiterFactory = (options) =>
  new RateLimiterMemory({
    keyPrefix: options.keyPrefix,
    points: options.points,
    duration: options.durationSeconds,
    ...(options.blockDurationSeconds ? { blockDuration: options.blockDurationSeconds } : {}),
  });

/**
 * Counters in Redis, shared by every process. While Redis is unreachable each process counts in
 * its own memory instead (rate-limiter-flexible's insurance limiter), so the service keeps serving
 * with per-process limits until Redis is back.
 */
export function redisLimiters(client: Redis, prefix: string): LimiterFactory {
  return (options) =>
    new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `${prefix}${options.keyPrefix}`,
      points: options.points,
      duration: options.durationSeconds,
      ...(options.blockDurationSeconds ? { blockDuration: options.blockDurationSeconds } : {}),
      rejectIfRedisNotReady: true,
      insuranceLimiter: memoryLimiters(options),
    });
}

export function createRateLimits(
  limits: Readonly<Partial<Record<RateLimitName, RateLimit | null>>>,
  createLimiter: LimiterFactory = memoryLimiters,
  ipv6PrefixBits = 64,
): RateLimits {
  const limiters = new Map<RateLimitName, RateLimiterAbstract>();
  for (const [route, limit] of Object.entries(limits) as [RateLimitName, RateLimit | null][]) {
    if (limit === null) continue;
    limiters.set(
      route,
      createLimiter({
        keyPrefix: `rl:${route}`,
        points: limit.points,
        durationSeconds: limit.durationSeconds,
      }),
    );
  }
  async function consume(name: RateLimitName, key: string): Promise<void> {
    const limiter = limiters.get(name);
    if (limiter === undefined) return;
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw new RateLimitedError(rejection.msBeforeNext / 1000);
      throw rejection;
    }
  }
  const hash = (value: string) => createHash('sha256').update(value).digest('base64url');
  return {
    consume: (route, ip) => consume(route, clientAddressKey(ip, ipv6PrefixBits)),
    async consumeMailAddress(address, requester) {
      const key = hash(address.normalize('NFKC').trim().toLowerCase());
      if ('userId' in requester) {
        await consume('mail_address_ip', hash(`${key}|user|${requester.userId}`));
        return;
      }
      // The pair first: one client over its own budget does not drain the address's.
      const client = requester.ip === null ? '' : clientAddressKey(requester.ip, ipv6PrefixBits);
      await consume('mail_address_ip', hash(`${key}|ip|${client}`));
      await consume('mail_address', key);
    },
  };
}

/** The rate limits the settings ask for (GATEHOUSE_RATE_LIMIT_*). */
export function rateLimitsFromConfig(config: Config, createLimiter: LimiterFactory): RateLimits {
  return createRateLimits(
    {
      token: config.rateLimitToken,
      login: config.rateLimitLogin,
      register: config.rateLimitRegister,
      basic: config.rateLimitBasic,
      mail: config.rateLimitMail,
      mail_address: config.rateLimitMailAddress,
      mail_address_ip: config.rateLimitMailAddressIp,
    },
    createLimiter,
    config.rateLimitIpv6Prefix,
  );
}
