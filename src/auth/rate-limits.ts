/**
 * Per-client-IP request limits for the routes that check passwords or create accounts. Counters
 * come from rate-limiter-flexible; this in-process store serves one process, and the interface
 * is what a shared (Redis) store implements for several.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimit } from '../config.ts';
import { RateLimitedError } from './errors.ts';

export type RateLimitedRoute = 'token' | 'login' | 'register' | 'basic';

export interface RateLimits {
  /** Counts one request from `ip` to `route`; throws RateLimitedError (429) when over the limit. */
  consume(route: RateLimitedRoute, ip: string): Promise<void>;
}

export function createRateLimits(limits: Readonly<Record<RateLimitedRoute, RateLimit | null>>): RateLimits {
  const limiters = new Map<RateLimitedRoute, RateLimiterMemory>();
  for (const [route, limit] of Object.entries(limits) as [RateLimitedRoute, RateLimit | null][]) {
    if (limit === null) continue;
    limiters.set(
      route,
      new RateLimiterMemory({
        keyPrefix: `gatehouse:${route}`,
        points: limit.points,
        duration: limit.durationSeconds,
      }),
    );
  }
  return {
    async consume(route, ip) {
      const limiter = limiters.get(route);
      if (limiter === undefined) return;
      try {
        await limiter.consume(ip);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) throw new RateLimitedError(rejection.msBeforeNext / 1000);
        throw rejection;
      }
    },
  };
}
