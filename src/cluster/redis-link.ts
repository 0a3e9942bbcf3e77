/**
 * What several Gatehouse processes share through Redis: one publish/subscribe channel that carries
 * "something changed" events (sessions revoked, roles edited, signing key rotated, users changed),
 * and a command connection for the rate-limit counters.
 *
 * The database stays the source of truth; Redis only tells the other processes sooner than they
 * would find out. So the link must know when it may have missed an event: every process publishes
 * a heartbeat on the channel and expects to hear its own echo. While the echo is late (Redis down,
 * a connection cut or hung, a publish lost), the link is unhealthy and callers fall back to the
 * database; when it is back, `onResync` runs (reload from the database) before the link is healthy.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';

export type ClusterEvent =
  | { readonly type: 'sessions-revoked'; readonly ids: readonly string[]; readonly at: number }
  | { readonly type: 'roles-changed' }
  | { readonly type: 'keys-changed' }
  | { readonly type: 'users-changed'; readonly ids: readonly string[] };

export interface RedisLink {
  /** True while every process's events are known to reach this one. */
  isHealthy(): boolean;
  /** Sends an event to every other process (not back to this one). */
  publish(event: ClusterEvent): void;
  /** For the rate-limit counters: fails fast (no offline queue) while Redis is unreachable. */
  readonly commands: Redis;
  /** Called with false when the link goes down and true once it is back and resynced. */
  onHealthChange(listener: (healthy: boolean) => void): void;
  /** Resolves true once healthy, false after `timeoutMs` without. */
  whenHealthy(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface RedisLinkOptions {
  readonly url: string;
  readonly prefix: string;
  /** Applies an event another process published. */
  readonly onEvent: (event: ClusterEvent) => Promise<void> | void;
  /** Re-reads what events may have been missed while unhealthy; runs before becoming healthy. */
  readonly onResync: () => Promise<void>;
  readonly onBackgroundError: (error: unknown) => void;
  /** Heartbeat period; the link is unhealthy when its own echo is older than 4 periods. */
  readonly heartbeatMs?: number;
}

const EVENT_TYPES = new Set([
  'sessions-revoked',
  'roles-changed',
  'keys-changed',
  'users-changed',
  'heartbeat',
]);

function connectionOptions(extra: RedisOptions): RedisOptions {
  return {
    connectTimeout: 1000,
    // Reconnect quickly and forever: the process keeps serving (degraded) meanwhile.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    ...extra,
  };
}

export function createRedisLink(options: RedisLinkOptions): RedisLink {
  const channel = `${options.prefix}events`;
  const origin = randomUUID();
  const heartbeatMs = options.heartbeatMs ?? 250;
  const staleAfterMs = heartbeatMs * 4;
  const publisher = new Redis(options.url, connectionOptions({ maxRetriesPerRequest: 2 }));
  const subscriber = new Redis(options.url, connectionOptions({ autoResubscribe: false }));
  const commands = new Redis(
    options.url,
    connectionOptions({ enableOfflineQueue: false, commandTimeout: 500, maxRetriesPerRequest: 0 }),
  );
  // ioredis reports every failed reconnection as an 'error'; health changes are reported instead.
  for (const client of [publisher, subscriber, commands]) client.on('error', () => {});

  const listeners: ((healthy: boolean) => void)[] = [];
  let healthy = false;
  let subscribed = false;
  let lastEchoAt = 0;
  let resyncing: Promise<void> | undefined;
  let closed = false;

  const setHealthy = (value: boolean) => {
    if (healthy === value) return;
    healthy = value;
    for (const listener of listeners) listener(value);
  };

  const resyncThenHealthy = () => {
    if (resyncing !== undefined || closed) return;
    resyncing = options
      .onResync()
      .then(
        () => {
          // Still hearing ourselves after the resync: nothing published meanwhile was missed.
          if (subscribed && Date.now() - lastEchoAt < staleAfterMs) setHealthy(true);
        },
        (error: unknown) => options.onBackgroundError(error),
      )
      .finally(() => {
        resyncing = undefined;
      });
  };

  const send = (message: object) => {
    publisher.publish(channel, JSON.stringify({ ...message, origin })).catch(() => {
      // A lost publish shows up as a missing heartbeat echo, here and in every other process.
    });
  };

  subscriber.on('message', (_channel: string, raw: string) => {
    let message: { type?: unknown; origin?: unknown } & Record<string, unknown>;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (typeof message.type !== 'string' || !EVENT_TYPES.has(message.type)) return;
    if (message.origin === origin) {
      if (message.type === 'heartbeat') {
        lastEchoAt = Date.now();
        if (!healthy) resyncThenHealthy();
      }
      return;
    }
    if (message.type === 'heartbeat') return;
    if (message.type === 'sessions-revoked') {
      const { ids, at } = message;
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string') || typeof at !== 'number') return;
      message = { type: 'sessions-revoked', ids, at };
    }
    if (message.type === 'users-changed') {
      const { ids } = message;
      if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) return;
      message = { type: 'users-changed', ids };
    }
    Promise.resolve(options.onEvent(message as ClusterEvent)).catch(options.onBackgroundError);
  });
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => {
        subscribed = true;
        send({ type: 'heartbeat' });
      },
      () => {
        // The connection dropped again; 'ready' will fire once more.
      },
    );
  });
  subscriber.on('close', () => {
    subscribed = false;
    setHealthy(false);
  });

  const heartbeat = setInterval(() => {
    if (healthy && Date.now() - lastEchoAt >= staleAfterMs) setHealthy(false);
    if (subscribed) send({ type: 'heartbeat' });
  }, heartbeatMs);
  heartbeat.unref();

  const quit = async (client: Redis) => {
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
  };

  return {
    isHealthy: () => healthy,
    publish: (event) => send(event),
    commands,
    onHealthChange: (listener) => {
      listeners.push(listener);
    },
    whenHealthy: (timeoutMs) =>
      new Promise((resolve) => {
        if (healthy) return resolve(true);
        const timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
        listeners.push((value) => {
          if (!value) return;
          clearTimeout(timer);
          resolve(true);
        });
      }),
    async close() {
      closed = true;
      clearInterval(heartbeat);
      await resyncing;
      // Publishes still queued (a revocation made just before shutdown) go out before quitting.
      await Promise.all([quit(publisher), quit(subscriber), quit(commands)]);
    },
  };
}
