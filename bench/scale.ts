/**
 * The scale run of `npm run bench` (`-- --scale` or `-- --scale-only`): `gatehouse serve`
 * processes on two fresh PostgreSQL databases, one with 1,000 users and one with 1,000,000
 * (bulk-inserted in SQL, not registered through the API), linked through one Redis; whoami
 * against each, and whoami and login against one process and against two. Writes
 * bench/scale-results.json.
 */

import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash as argon2Hash } from '@node-rs/argon2';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadKeyRing } from '../src/auth/keys.ts';
import { createTokenService } from '../src/auth/tokens.ts';
import { systemClock } from '../src/clock.ts';
import { migrateToLatest, openStore } from '../src/store/db.ts';
import type { Load } from './load.ts';
import { type BenchServer, startServer } from './server.ts';

const PASSWORD = 'correct horse battery staple';
const ISSUER = 'http://gatehouse.bench';
/** The like-for-like sample: this many users, the whole small table or spread over the large one. */
const SAMPLE_USERS = 1000;
/** More than a process's token cache (10,000), so every request verifies a signature. */
const TOKENS_PER_RUN = 20_000;
/** More users than the user cache keeps fresh at these rates: most requests read the database. */
const WIDE_SAMPLE_USERS = 20_000;

export interface ScaleOptions {
  /** The large population (1,000,000); the small one is 1,000 (or this, when smaller). */
  readonly users: number;
  readonly durationSeconds: number;
  /** Where `CREATE DATABASE gh_bench_…` is run; the databases are dropped afterwards. */
  readonly adminDatabaseUrl: string;
  readonly redisUrl: string;
  /** The servers' argon2id cost; the bulk users' shared hash is made with the same. */
  readonly argon2?: { readonly memoryKib: number; readonly iterations: number };
  readonly log?: (line: string) => void;
}

export interface ScaleResults {
  readonly date: string;
  /** The databases the run created (and dropped at its end). */
  readonly databases: readonly string[];
  readonly machine: { cores: number; node: string; durationSeconds: number };
  readonly users: {
    small: number;
    large: number;
    insertSmallMs: number;
    insertLargeMs: number;
    insertedRowsPerSecond: number;
  };
  readonly runs: Record<string, Load>;
  readonly ratios: Record<string, number>;
  readonly targets: {
    readonly whoamiLargeWithin10PercentOfSmall: { met: boolean; ratio: number };
    readonly whoamiAtLeast40PercentOfTrivialWithRedis: {
      met: boolean;
      ratio: number;
      withoutUserCache: number;
    };
  };
}

/** The id of bulk user `n`: UUID-shaped and spread over the index like real random ids. */
export function benchUserId(n: number): string {
  const hex = createHash('md5').update(`gh-bench-${n}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const INSERT_BATCH = 100_000;

/**
 * Inserts users `from`..`to` with one shared password hash, and their `user` role, in SQL
 * batches on a connection of its own (the servers' statement timeout would cut a long insert).
 */
async function insertUsers(
  databaseUrl: string,
  from: number,
  to: number,
  passwordHash: string,
): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const started = performance.now();
    const base = Date.now();
    for (let first = from; first <= to; first += INSERT_BATCH) {
      const last = Math.min(to, first + INSERT_BATCH - 1);
      await client.query('begin');
      await client.query(
        `insert into users (id, username, username_normalized, email, email_normalized, full_name,
                            password_hash, disabled, created_at, updated_at)
         select md5('gh-bench-' || g)::uuid::text, 'user' || g, 'user' || g,
                'user' || g || '@bench.example', 'user' || g || '@bench.example', null,
                $1, 0, $2::bigint + g, $2::bigint + g
         from generate_series($3::int, $4::int) as g`,
        [passwordHash, base, first, last],
      );
      await client.query(
        `insert into user_roles (user_id, role_name)
         select md5('gh-bench-' || g)::uuid::text, 'user' from generate_series($1::int, $2::int) as g`,
        [first, last],
      );
      await client.query('commit');
    }
    await client.query('analyze users');
    await client.query('analyze user_roles');
    return performance.now() - started;
  } finally {
    await client.end();
  }
}

/** `count` distinct numbers from 1..`population`, uniformly spread (all of them when fewer). */
function sample(population: number, count: number): number[] {
  if (count >= population) return Array.from({ length: population }, (_, i) => i + 1);
  const picked = new Set<number>();
  while (picked.size < count) picked.add(randomInt(1, population + 1));
  return [...picked];
}

function summarize(result: autocannon.Result): Load {
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    requests: result.requests.total,
  };
}

/** The same load against every server at once; req/s summed, latencies of the slowest. */
function combine(loads: readonly Load[]): Load {
  return {
    rps: loads.reduce((sum, l) => sum + l.rps, 0),
    p50: Math.max(...loads.map((l) => l.p50)),
    p99: Math.max(...loads.map((l) => l.p99)),
    non2xx: loads.reduce((sum, l) => sum + l.non2xx, 0),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
    requests: loads.reduce((sum, l) => sum + l.requests, 0),
  };
}

/** One run's slices: req/s and latencies averaged, counts summed. */
function average(loads: readonly Load[]): Load {
  const mean = (pick: (load: Load) => number) => loads.reduce((sum, l) => sum + pick(l), 0) / loads.length;
  return {
    rps: mean((l) => l.rps),
    p50: mean((l) => l.p50),
    p99: mean((l) => l.p99),
    non2xx: loads.reduce((sum, l) => sum + l.non2xx, 0),
    errors: loads.reduce((sum, l) => sum + l.errors, 0),
    requests: loads.reduce((sum, l) => sum + l.requests, 0),
  };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A cluster of `gatehouse serve` processes on one database: tokens are minted with its key. */
interface Deployment {
  readonly databaseUrl: string;
  readonly servers: BenchServer[];
  hotToken: string;
  tokensFor(users: readonly number[]): string[];
}

export async function runScaleBench(options: ScaleOptions): Promise<ScaleResults> {
  const log = options.log ?? (() => {});
  const large = options.users;
  const small = Math.min(1000, large);
  const argon2 = options.argon2 ?? { memoryKib: 19456, iterations: 2 };
  const duration = options.durationSeconds;
  // Each run is split into slices, and the slices of all runs alternate: a machine that slows
  // down for a while (other work on it) then weighs on 1,000 and 1,000,000 users alike.
  const rounds = Math.max(1, Math.min(3, Math.floor(duration / 2)));
  const slice = duration / rounds;
  const name = `gh_bench_${randomBytes(6).toString('hex')}`;
  const databases = { small: `${name}_small`, large: `${name}_large` };
  const prefix = `${name}:`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-scale-'));

  const admin = new pg.Client({ connectionString: options.adminDatabaseUrl });
  admin.on('error', (error) => log(`admin connection: ${error.message}`));
  await admin.connect();
  const servers: BenchServer[] = [];
  try {
    const passwordHash = await argon2Hash(PASSWORD, {
      algorithm: 2,
      memoryCost: argon2.memoryKib,
      timeCost: argon2.iterations,
      parallelism: 1,
    });
    const prepare = async (database: string, users: number) => {
      await admin.query(`create database ${database}`);
      const databaseUrl = withDatabase(options.adminDatabaseUrl, database);
      const store = openStore(databaseUrl);
      try {
        await migrateToLatest(store);
      } finally {
        await store.close();
      }
      log(`inserting ${users} users into ${database}…`);
      return { databaseUrl, insertMs: await insertUsers(databaseUrl, 1, users, passwordHash) };
    };
    const smallDb = await prepare(databases.small, small);
    const largeDb = await prepare(databases.large, large);

    const form = (username: string) => new URLSearchParams({ username, password: PASSWORD }).toString();
    const deploy = async (databaseUrl: string, redisPrefix: string, userCacheSizes: readonly string[]) => {
      const env = {
        GATEHOUSE_DATABASE_URL: databaseUrl,
        GATEHOUSE_ISSUER: ISSUER,
        GATEHOUSE_REDIS_URL: options.redisUrl,
        GATEHOUSE_REDIS_PREFIX: redisPrefix,
        GATEHOUSE_ARGON2_MEMORY_KIB: String(argon2.memoryKib),
        GATEHOUSE_ARGON2_ITERATIONS: String(argon2.iterations),
        GATEHOUSE_RATE_LIMIT_LOGIN: 'off',
      };
      const started: BenchServer[] = [];
      for (const size of userCacheSizes) {
        const server = await startServer(dir, { ...env, GATEHOUSE_USER_CACHE_SIZE: size });
        servers.push(server);
        started.push(server);
      }
      const first = started[0] as BenchServer;
      const response = await fetch(`${first.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form('user1'),
      });
      if (response.status !== 200) throw new Error(`login: ${response.status}`);
      const { access_token: hotToken } = (await response.json()) as { access_token: string };
      // Tokens minted with the servers' own key, as /token would: logging in 20,000 times would
      // measure argon2id, not whoami.
      const store = openStore(databaseUrl);
      const keys = await loadKeyRing(store, 'EdDSA', undefined, systemClock, { retainRetiredMs: 930_000 });
      await store.close();
      const minter = createTokenService(keys, systemClock, {
        issuer: ISSUER,
        audience: ISSUER,
        ttlSeconds: 900,
        cacheSize: 0,
      });
      const deployment: Deployment = {
        databaseUrl,
        servers: started,
        hotToken,
        tokensFor: (users) =>
          Array.from(
            { length: TOKENS_PER_RUN },
            (_, i) =>
              minter.issueAccessToken({
                userId: benchUserId(users[i % users.length] ?? 1),
                username: `user${users[i % users.length]}`,
                roles: ['user'],
                scope: 'profile:read profile:write',
              }).token,
          ),
      };
      return deployment;
    };
    // The default user cache, and without it (size 0): what every whoami cost before it.
    const smallDeployment = await deploy(smallDb.databaseUrl, `${prefix}small:`, ['10000', '0']);
    const largeDeployment = await deploy(largeDb.databaseUrl, `${prefix}large:`, ['10000', '10000', '0']);
    const [smallA, smallUncached] = smallDeployment.servers as [BenchServer, BenchServer];
    const [a, b, largeUncached] = largeDeployment.servers as [BenchServer, BenchServer, BenchServer];

    const load = async (url: string, extra: autocannon.Options | object = {}) =>
      summarize(await autocannon({ url, connections: 32, duration: slice, ...extra }));
    const hot = (server: BenchServer, deployment: Deployment) =>
      load(`${server.url}/users/me`, { headers: { authorization: `Bearer ${deployment.hotToken}` } });
    // Each slice goes on where the last one stopped, so a token comes back only after all others.
    const cursors = new Map<readonly string[], number>();
    const cold = (server: BenchServer, tokens: readonly string[]) =>
      load(`${server.url}/users/me`, {
        requests: [
          {
            setupRequest: (request: { headers?: Record<string, string> }) => {
              const next = cursors.get(tokens) ?? 0;
              cursors.set(tokens, next + 1);
              request.headers = {
                ...request.headers,
                authorization: `Bearer ${tokens[next % tokens.length]}`,
              };
              return request;
            },
          },
        ],
      });
    const logins = (server: BenchServer, users: readonly number[]) => {
      let next = 0;
      return load(`${server.url}/token`, {
        connections: 8,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        requests: [
          {
            setupRequest: (request: { body?: string }) => {
              request.body = form(`user${users[next++ % users.length]}`);
              return request;
            },
          },
        ],
      });
    };

    const smallTokens = smallDeployment.tokensFor(sample(small, SAMPLE_USERS));
    const largeTokens = largeDeployment.tokensFor(sample(large, SAMPLE_USERS));
    const wideTokens = largeDeployment.tokensFor(sample(large, WIDE_SAMPLE_USERS));
    const loginUsers = sample(large, 1000);
    const plan: Record<string, () => Promise<Load>> = {
      trivial: () => load(`${a.url}/`),
      whoamiHotSmall: () => hot(smallA, smallDeployment),
      whoamiHotLarge: () => hot(a, largeDeployment),
      whoamiColdSmall: () => cold(smallA, smallTokens),
      whoamiColdLarge: () => cold(a, largeTokens),
      whoamiColdLargeWide: () => cold(a, wideTokens),
      whoamiHotLargeNoUserCache: () => hot(largeUncached, largeDeployment),
      whoamiColdSmallNoUserCache: () => cold(smallUncached, smallTokens),
      whoamiColdLargeNoUserCache: () => cold(largeUncached, largeTokens),
      whoamiTwoProcesses: async () =>
        combine(await Promise.all([hot(a, largeDeployment), hot(b, largeDeployment)])),
      loginOneProcess: () => logins(a, loginUsers),
      loginTwoProcesses: async () =>
        combine(await Promise.all([logins(a, loginUsers), logins(b, loginUsers)])),
    };
    const slices: Record<string, Load[]> = Object.fromEntries(Object.keys(plan).map((run) => [run, []]));
    for (let round = 1; round <= rounds; round++) {
      log(`round ${round} of ${rounds} (${Object.keys(plan).length} runs of ${slice} s)…`);
      for (const [run, measure] of Object.entries(plan)) slices[run]?.push(await measure());
    }
    const runs: Record<string, Load> = Object.fromEntries(
      Object.entries(slices).map(([run, loads]) => [run, average(loads)]),
    );

    const rps = (run: string) => runs[run]?.rps ?? 0;
    const ratio = (x: number, y: number) => (y > 0 ? x / y : 0);
    const ratios = {
      whoamiHotToTrivial: ratio(rps('whoamiHotLarge'), rps('trivial')),
      whoamiHotToTrivialNoUserCache: ratio(rps('whoamiHotLargeNoUserCache'), rps('trivial')),
      whoamiColdToTrivial: ratio(rps('whoamiColdLarge'), rps('trivial')),
      hotLargeToSmall: ratio(rps('whoamiHotLarge'), rps('whoamiHotSmall')),
      coldLargeToSmall: ratio(rps('whoamiColdLarge'), rps('whoamiColdSmall')),
      coldWideToSmall: ratio(rps('whoamiColdLargeWide'), rps('whoamiColdSmall')),
      coldLargeToSmallNoUserCache: ratio(
        rps('whoamiColdLargeNoUserCache'),
        rps('whoamiColdSmallNoUserCache'),
      ),
      whoamiTwoToOne: ratio(rps('whoamiTwoProcesses'), rps('whoamiHotLarge')),
      loginTwoToOne: ratio(rps('loginTwoProcesses'), rps('loginOneProcess')),
    };
    return {
      date: new Date().toISOString(),
      databases: Object.values(databases),
      machine: { cores: availableParallelism(), node: process.version, durationSeconds: duration },
      users: {
        small,
        large,
        insertSmallMs: smallDb.insertMs,
        insertLargeMs: largeDb.insertMs,
        insertedRowsPerSecond: ratio(large, largeDb.insertMs / 1000),
      },
      runs,
      ratios,
      targets: {
        whoamiLargeWithin10PercentOfSmall: {
          met: ratios.coldLargeToSmall >= 0.9,
          ratio: ratios.coldLargeToSmall,
        },
        whoamiAtLeast40PercentOfTrivialWithRedis: {
          met: ratios.whoamiHotToTrivial >= 0.4,
          ratio: ratios.whoamiHotToTrivial,
          withoutUserCache: ratios.whoamiHotToTrivialNoUserCache,
        },
      },
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    for (const database of Object.values(databases)) {
      await admin.query(`drop database if exists ${database} with (force)`);
    }
    await admin.end();
    const redis = new Redis(options.redisUrl, { lazyConnect: true });
    try {
      await redis.connect();
      for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 })) {
        if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
      }
    } finally {
      redis.disconnect();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printScaleResults(results: ScaleResults): void {
  const f = (n: number, digits = 0) => n.toFixed(digits);
  const pct = (n: number) => `${f(100 * n)}%`;
  const { runs, ratios, users } = results;
  const row = (name: string, note = '') => {
    const run = runs[name];
    return run
      ? { 'req/s': f(run.rps, run.rps < 100 ? 1 : 0), p50_ms: f(run.p50, 1), p99_ms: f(run.p99, 1), note }
      : undefined;
  };
  const smallLabel = users.small.toLocaleString('en');
  const largeLabel = users.large.toLocaleString('en');
  console.log(
    `\nGatehouse scale run ${results.date} (${results.machine.cores} cores, ${results.machine.node}, ${results.machine.durationSeconds}s per run in alternating slices; PostgreSQL + Redis)`,
  );
  console.log(
    `bulk insert: ${smallLabel} users in ${f(users.insertSmallMs)} ms, ${largeLabel} in ${f(users.insertLargeMs)} ms (${f(users.insertedRowsPerSecond)} users/s with their roles)`,
  );
  console.table({
    'trivial GET /': row('trivial'),
    [`whoami hot, ${smallLabel} users`]: row('whoamiHotSmall'),
    [`whoami cold, ${smallLabel} users`]: row(
      'whoamiColdSmall',
      `${SAMPLE_USERS} users, a new token per request`,
    ),
    [`whoami hot, ${largeLabel} users`]: row(
      'whoamiHotLarge',
      `${pct(ratios.hotLargeToSmall ?? 0)} of ${smallLabel}; ${pct(ratios.whoamiHotToTrivial ?? 0)} of trivial`,
    ),
    [`whoami cold, ${largeLabel} users`]: row(
      'whoamiColdLarge',
      `${SAMPLE_USERS} users spread over the table; ${pct(ratios.coldLargeToSmall ?? 0)} of ${smallLabel}`,
    ),
    [`whoami cold wide, ${largeLabel} users`]: row(
      'whoamiColdLargeWide',
      `${WIDE_SAMPLE_USERS} users (mostly user-cache misses); ${pct(ratios.coldWideToSmall ?? 0)} of cold ${smallLabel}`,
    ),
    'whoami hot, no user cache': row(
      'whoamiHotLargeNoUserCache',
      `${pct(ratios.whoamiHotToTrivialNoUserCache ?? 0)} of trivial`,
    ),
    [`whoami cold, no user cache, ${smallLabel} users`]: row('whoamiColdSmallNoUserCache'),
    [`whoami cold, no user cache, ${largeLabel} users`]: row(
      'whoamiColdLargeNoUserCache',
      `${pct(ratios.coldLargeToSmallNoUserCache ?? 0)} of ${smallLabel}: the database lookup alone`,
    ),
    'whoami hot, 2 processes': row(
      'whoamiTwoProcesses',
      `${f(ratios.whoamiTwoToOne ?? 0, 2)}× one process (summed, p99 of the slower)`,
    ),
    'login, 1 process': row('loginOneProcess'),
    'login, 2 processes': row('loginTwoProcesses', `${f(ratios.loginTwoToOne ?? 0, 2)}× one process`),
  });
  console.log(
    `Two processes share this machine's ${results.machine.cores} cores with each other and with the load generator, so no gain is expected here; on separate machines they add up.`,
  );
  const { whoamiLargeWithin10PercentOfSmall: size, whoamiAtLeast40PercentOfTrivialWithRedis: redis } =
    results.targets;
  console.log(
    `target whoami with ${largeLabel} users within 10% of ${smallLabel}: ${size.met ? 'met' : 'NOT met'} (${pct(size.ratio)})`,
  );
  console.log(
    `target whoami ≥ 40% of trivial with Redis-backed revocation: ${redis.met ? 'met' : 'NOT met'} (${pct(redis.ratio)}; ${pct(redis.withoutUserCache)} without the user cache)`,
  );
}

/** `npm run bench -- --scale[-only]`: settings from the environment, results to bench/scale-results.json. */
export async function runScaleFromEnvironment(): Promise<void> {
  const results = await runScaleBench({
    users: Number(process.env.BENCH_SCALE_USERS ?? 1_000_000),
    durationSeconds: Number(process.env.BENCH_DURATION ?? 6),
    adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    log: (line) => console.log(`scale: ${line}`),
  });
  writeFileSync(new URL('./scale-results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
  printScaleResults(results);
}
