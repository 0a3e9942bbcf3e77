/**
 * Prometheus metrics (prom-client) with one registry per Gatehouse, never prom-client's global
 * one, so two Gatehouses in one process (two embedded apps, or tests) never share a counter.
 *
 * Process metrics (CPU, memory, event loop, GC) describe the process rather than a Gatehouse, and
 * prom-client cannot stop their collectors once started (a GC observer and an event-loop
 * histogram that hold their registry forever). So they are collected once per process, at the
 * first scrape, in a registry of their own that every scrape appends.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RedisLink } from '../cluster/redis-link.ts';
import type { Store } from '../store/db.ts';
import { createRequestTallies } from './request-tallies.ts';

export const METRIC_PREFIX = 'gatehouse_';

/** The route label of requests no route matched: raw URLs would make the label set unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

const DATABASE_PING_TIMEOUT_MS = 1000;

export type LoginMethod = 'password' | 'cookie' | 'external';
export type LoginOutcome =
  | 'success'
  | 'invalid_credentials'
  | 'disabled'
  | 'blocked'
  | 'overloaded'
  | 'error';
export type TokenGrant = 'password' | 'refresh_token' | 'magic_link' | 'token_exchange';

export interface GatehouseMetrics {
  /** This Gatehouse's metrics only; a host app may merge it into its own registry. */
  readonly registry: Registry;
  /** The `Content-Type` of `scrape()`'s text. */
  readonly contentType: string;
  /** The exposition text: this Gatehouse's metrics, then the process's. */
  scrape(): Promise<string>;
  /** `route` is the matched route's pattern (`/users/:id`), undefined when nothing matched. */
  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void;
  login(method: LoginMethod, outcome: LoginOutcome): void;
  tokenIssued(grant: TokenGrant): void;
  refreshReuseDetected(): void;
}

let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: METRIC_PREFIX });
  }
  return processRegistry;
}

async function answersWithin(ping: () => Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([ping().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function createMetrics(deps: { store: Store; redis: RedisLink | undefined }): GatehouseMetrics {
  const { store, redis } = deps;
  const registry = new Registry();
  const registers = [registry];
  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`;

  const requests = createRequestTallies(registry, {
    requests: {
      name: name('http_requests_total'),
      help: 'HTTP requests answered, by method, route pattern and status.',
    },
    durations: {
      name: name('http_request_duration_seconds'),
      help: 'Time from receiving a request to finishing its response, by method and route pattern.',
    },
  });
  const rateLimitBlocks = new Counter({
    name: name('rate_limit_blocks_total'),
    help: 'Requests refused with 429 Too Many Requests, by route pattern.',
    labelNames: ['route'] as const,
    registers,
  });
  const logins = new Counter({
    name: name('logins_total'),
    help: 'Logins by method (password: POST /token, cookie: POST /login, external: a Google, GitHub or OpenID Connect sign-in) and outcome.',
    labelNames: ['method', 'outcome'] as const,
    registers,
  });
  const tokensIssued = new Counter({
    name: name('tokens_issued_total'),
    help: 'Access and refresh token pairs issued, by grant.',
    labelNames: ['grant'] as const,
    registers,
  });
  const refreshReuse = new Counter({
    name: name('refresh_reuse_detected_total'),
    help: 'Spent refresh tokens presented again after the grace window; each revoked its session.',
    registers,
  });
  new Gauge({
    name: name('database_up'),
    help: `1 when the database answered a trivial query within ${DATABASE_PING_TIMEOUT_MS / 1000} s at scrape time, else 0.`,
    registers,
    async collect() {
      this.set((await answersWithin(() => store.ping(), DATABASE_PING_TIMEOUT_MS)) ? 1 : 0);
    },
  });
  if (redis !== undefined) {
    new Gauge({
      name: name('redis_up'),
      help: '1 while the Redis link carries events between processes (its heartbeat echoes), else 0.',
      registers,
      collect() {
        this.set(redis.isHealthy() ? 1 : 0);
      },
    });
    new Gauge({
      name: name('rate_limit_fallback'),
      help: '1 while Redis is unavailable and rate limits are counted in this process’s memory, else 0.',
      registers,
      collect() {
        this.set(redis.isHealthy() ? 0 : 1);
      },
    });
    const outages = new Counter({
      name: name('redis_unavailable_total'),
      help: 'Times the Redis link went down (rate limits fell back to memory until it returned).',
      registers,
    });
    redis.onHealthChange((healthy) => {
      if (!healthy) outages.inc();
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    async scrape() {
      return (await registry.metrics()) + (await processMetrics().metrics());
    },
    observeRequest(method, route, status, seconds) {
      const pattern = route ?? UNMATCHED_ROUTE;
      requests.observe(method, pattern, status, seconds);
      if (status === 429) rateLimitBlocks.inc({ route: pattern });
    },
    login: (method, outcome) => logins.inc({ method, outcome }),
    tokenIssued: (grant) => tokensIssued.inc({ grant }),
    refreshReuseDetected: () => refreshReuse.inc(),
  };
}
