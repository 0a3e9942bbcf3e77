/**
 * `npm run bench`: every figure as a share of a bare Fastify 5 hello app measured in the same run.
 * The servers run pinned to core 0 and the load generator (wrk, one thread) to core 1 where the
 * machine has two. Measured: `GET /healthz`, whoami (`GET /users/me`) with one token (hot) and
 * with a new token on every request (cold), a host app's route with and without the plugin,
 * password login against the argon2id limit of the server's core, whoami while logins
 * saturate, and the server's resident memory after 100,000 distinct tokens of 10,000 users.
 * Writes bench/results.json. `npm run bench -- --scale` adds the scale run (bench/scale.ts);
 * `-- --scale-only` runs only that. BENCH_DURATION (seconds per run, default 6);
 * BENCH_LOAD=autocannon to use autocannon instead of wrk.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { hash as rsHash } from '@node-rs/argon2';
import { PASSWORD, prepareServer } from './fixtures.ts';
import { createLoadGenerator, type Load, type LoadRequest } from './load.ts';
import { runScaleFromEnvironment } from './scale.ts';
import { pinCores, startApp, startServer, stopProcess } from './server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 6);
const CONNECTIONS = 32;
const LOGIN_CONNECTIONS = 8;
const OWASP = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
const MEMORY_TOKENS = 100_000;
const MEMORY_USERS = 10_000;

const TARGETS = {
  healthz: 0.8,
  whoamiHot: 0.5,
  whoamiHotP99: 3,
  whoamiCold: 0.3,
  hostRoute: 0.95,
  login: 0.9,
} as const;

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
/** The mean CPU time per request of runs that measured it, or undefined. */
const meanCpu = (runs: readonly Load[]) => {
  const costs = runs.flatMap((r) => (r.cpuUsPerRequest === undefined ? [] : [r.cpuUsPerRequest]));
  return costs.length === runs.length && costs.length > 0 ? mean(costs) : undefined;
};

function residentMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}

interface Argon2Limit {
  readonly perSecond: number;
  /** CPU time of one verify (µs): what a login costs beyond its own work. */
  readonly cpuUs: number;
}

/** argon2id verifies per second on `core`, in a process of its own (the server's core). */
function argon2Limit(
  storedHash: string,
  core: number | undefined,
  concurrency: number,
): Promise<Argon2Limit> {
  const node = [process.execPath, 'bench/argon2-limit.ts', storedHash, String(concurrency), '30'];
  const [command, ...args] = core === undefined ? node : ['taskset', '-c', String(core), ...node];
  return new Promise((resolve, reject) =>
    execFile(command ?? process.execPath, args, (error, stdout) =>
      error
        ? reject(error)
        : resolve({
            perSecond: Number(stdout.trim().split(' ')[0]),
            cpuUs: Number(stdout.trim().split(' ')[1]),
          }),
    ),
  );
}

/** The best of one and two verifies at a time: what the core gives when it only hashes. */
async function argon2CoreLimit(storedHash: string, core: number | undefined): Promise<Argon2Limit> {
  const [one, two] = [await argon2Limit(storedHash, core, 1), await argon2Limit(storedHash, core, 2)];
  return { perSecond: Math.max(one.perSecond, two.perSecond), cpuUs: Math.min(one.cpuUs, two.cpuUs) };
}

/** Users `bulk0`… inserted in SQL into the server's SQLite file (no argon2: they never log in). */
function insertUsers(databaseFile: string, count: number): string[] {
  const db = new DatabaseSync(databaseFile);
  db.exec('PRAGMA busy_timeout = 10000');
  const ids = Array.from({ length: count }, () => randomUUID());
  const user = db.prepare(
    `insert into users (id, username, username_normalized, email, email_normalized, full_name,
                        password_hash, disabled, created_at, updated_at, email_verified_at)
     values (?, ?, ?, ?, ?, null, null, 0, ?, ?, null)`,
  );
  const role = db.prepare(`insert into user_roles (user_id, role_name) values (?, 'user')`);
  const now = Date.now();
  db.exec('begin');
  ids.forEach((id, i) => {
    user.run(id, `bulk${i}`, `bulk${i}`, `bulk${i}@bench.example`, `bulk${i}@bench.example`, now, now);
    role.run(id);
  });
  db.exec('commit');
  db.close();
  return ids;
}

async function runBench(): Promise<void> {
  const cores = availableParallelism();
  const { pinned, serverCore, loadCore } = pinCores();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const t0 = performance.now();
  const log = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${line}`);
  const generator = createLoadGenerator({ core: loadCore, workDir: dir, log });
  const load = (request: Omit<LoadRequest, 'connections' | 'durationSeconds'> & { connections?: number }) =>
    generator.run({ connections: CONNECTIONS, durationSeconds: DURATION_S, ...request });
  const children: ChildProcess[] = [];
  const server = await startServer(dir, {}, { core: serverCore });
  try {
    const bare = await startApp('bare', dir, serverCore);
    children.push(bare.child);
    const { users, form, hotToken, userId, mint } = await prepareServer(server);
    const COLD_TOKENS = Math.max(60_000, DURATION_S * 10_000);
    const coldTokens = Array.from({ length: COLD_TOKENS }, () => mint(userId, 'bench0'));
    const bearer = { authorization: `Bearer ${hotToken}` };

    log(`measuring (${generator.name}${pinned ? ', servers on core 0, load on core 1' : ', unpinned'})…`);
    const baselineRuns: Load[] = [];
    baselineRuns.push(await load({ url: `${bare.url}/`, serverPid: bare.child.pid }));
    const healthz = await load({ url: `${server.url}/healthz`, serverPid: server.pid });
    const hot = await load({ url: `${server.url}/users/me`, headers: bearer, serverPid: server.pid });
    baselineRuns.push(await load({ url: `${bare.url}/`, serverPid: bare.child.pid }));
    const cold = await load({
      url: `${server.url}/users/me`,
      lines: { mode: 'bearer', values: coldTokens },
      serverPid: server.pid,
    });

    log('host app with and without the plugin…');
    const host = await startApp('host', dir, serverCore);
    const hostGatehouse = await startApp('host-gatehouse', dir, serverCore);
    children.push(host.child, hostGatehouse.child);
    const hostWithout = [await load({ url: `${host.url}/items`, serverPid: host.child.pid })];
    const hostWith = [await load({ url: `${hostGatehouse.url}/items`, serverPid: hostGatehouse.child.pid })];
    hostWith.push(await load({ url: `${hostGatehouse.url}/items`, serverPid: hostGatehouse.child.pid }));
    hostWithout.push(await load({ url: `${host.url}/items`, serverPid: host.child.pid }));
    await Promise.all([stopProcess(host.child), stopProcess(hostGatehouse.child)]);
    baselineRuns.push(await load({ url: `${bare.url}/`, serverPid: bare.child.pid }));

    log('login against the argon2id limit…');
    const storedHash = await rsHash(PASSWORD, { ...OWASP, algorithm: 2 });
    const forms = { mode: 'form' as const, values: users.map(form) };
    // The machine's speed drifts (shared hosts): measure the limit right before and right after
    // the login run, on the server's core, and use the mean.
    const hashBefore = await argon2CoreLimit(storedHash, serverCore);
    const login = await load({
      url: `${server.url}/token`,
      connections: LOGIN_CONNECTIONS,
      lines: forms,
      serverPid: server.pid,
    });
    const hashAfter = await argon2CoreLimit(storedHash, serverCore);
    const [limitBefore, limitAfter] = [hashBefore.perSecond, hashAfter.perSecond];
    const argon2Limit = (limitBefore + limitAfter) / 2;
    // A login's own CPU time beside its hash (HTTP, throttle, SQLite, JWT, logs), which shares the core.
    const hashCpuUs = (hashBefore.cpuUs + hashAfter.cpuUs) / 2;
    const loginOwnCpuUs = login.cpuUsPerRequest === undefined ? undefined : login.cpuUsPerRequest - hashCpuUs;
    const [mixedWhoami, mixedLogin] = await Promise.all([
      load({ url: `${server.url}/users/me`, headers: bearer }),
      load({ url: `${server.url}/token`, connections: LOGIN_CONNECTIONS, lines: forms }),
    ]);

    log(`memory: ${MEMORY_TOKENS} tokens of ${MEMORY_USERS} users…`);
    // Memory: 100,000 distinct tokens of 10,000 users through whoami, every one answered.
    const bulk = insertUsers(join(dir, 'bench.db'), MEMORY_USERS);
    const memoryTokens = Array.from({ length: MEMORY_TOKENS }, (_, i) =>
      mint(bulk[i % MEMORY_USERS] ?? '', `bulk${i}`),
    );
    const rssBefore = residentMiB(server.pid);
    let sent = 0;
    let refused = 0;
    while (sent < MEMORY_TOKENS) {
      const run = await load({
        url: `${server.url}/users/me`,
        lines: { mode: 'bearer', values: memoryTokens.slice(sent) },
      });
      sent += run.requests;
      refused += run.non2xx + run.errors;
    }
    const rssAfter = residentMiB(server.pid);

    const baseline = {
      rps: mean(baselineRuns.map((r) => r.rps)),
      p50: mean(baselineRuns.map((r) => r.p50)),
      p99: mean(baselineRuns.map((r) => r.p99)),
      cpuUsPerRequest: meanCpu(baselineRuns),
      runs: baselineRuns,
    };
    // The same figures by CPU time per request (a share above 1 would cost less than the baseline).
    const cpuShare = (runs: readonly Load[], of = baseline.cpuUsPerRequest) => {
      const cost = meanCpu(runs);
      return of === undefined || cost === undefined ? undefined : of / cost;
    };
    const share = (rps: number) => rps / baseline.rps;
    const hostShare = mean(hostWith.map((r) => r.rps)) / mean(hostWithout.map((r) => r.rps));
    const results = {
      date: new Date().toISOString(),
      machine: {
        cores,
        node: process.version,
        pinned,
        loadGenerator: generator.name,
        durationSeconds: DURATION_S,
        connections: CONNECTIONS,
      },
      baseline,
      healthz: { ...healthz, share: share(healthz.rps), cpuShare: cpuShare([healthz]) },
      whoamiHot: {
        ...hot,
        share: share(hot.rps),
        cpuShare: cpuShare([hot]),
        p99RatioToBaseline: hot.p99 / baseline.p99,
      },
      whoamiCold: {
        ...cold,
        share: share(cold.rps),
        cpuShare: cpuShare([cold]),
        distinctTokens: Math.min(cold.requests, COLD_TOKENS),
      },
      hostRoute: {
        without: hostWithout,
        with: hostWith,
        share: hostShare,
        cpuShare: cpuShare(hostWith, meanCpu(hostWithout)),
      },
      login: {
        ...login,
        argon2LimitPerSecond: argon2Limit,
        argon2LimitBeforeAfter: [limitBefore, limitAfter],
        hashCpuUs,
        loginOwnCpuUs,
        share: login.rps / argon2Limit,
      },
      mixed: { whoami: mixedWhoami, login: mixedLogin, p99RatioToUnloaded: mixedWhoami.p99 / hot.p99 },
      memory: {
        tokens: MEMORY_TOKENS,
        users: MEMORY_USERS,
        requestsSent: sent,
        refused,
        residentMiBBefore: rssBefore,
        residentMiBAfter: rssAfter,
      },
      targets: {
        healthz: {
          target: TARGETS.healthz,
          share: share(healthz.rps),
          met: share(healthz.rps) >= TARGETS.healthz,
        },
        whoamiHot: {
          target: TARGETS.whoamiHot,
          share: share(hot.rps),
          p99Ratio: hot.p99 / baseline.p99,
          met: share(hot.rps) >= TARGETS.whoamiHot && hot.p99 / baseline.p99 <= TARGETS.whoamiHotP99,
        },
        whoamiCold: {
          target: TARGETS.whoamiCold,
          share: share(cold.rps),
          met: share(cold.rps) >= TARGETS.whoamiCold,
        },
        hostRoute: { target: TARGETS.hostRoute, share: hostShare, met: hostShare >= TARGETS.hostRoute },
        login: {
          target: TARGETS.login,
          share: login.rps / argon2Limit,
          met: login.rps / argon2Limit >= TARGETS.login,
        },
      },
    };
    writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

    const f = (n: number, digits = 0) => n.toFixed(digits);
    const pct = (n: number) => `${f(100 * n)}%`;
    const row = (r: Load, shareText: string, target: string, met?: boolean, cpu?: number) => ({
      'req/s': f(r.rps, r.rps < 100 ? 1 : 0),
      p50_ms: f(r.p50, 1),
      p99_ms: f(r.p99, 1),
      share: shareText,
      'cpu µs/req': r.cpuUsPerRequest === undefined ? '' : f(r.cpuUsPerRequest),
      'cpu share': cpu === undefined ? '' : pct(cpu),
      target,
      met: met === undefined ? '' : met ? 'yes' : 'NO',
    });
    const { targets } = results;
    console.log(
      `\nGatehouse bench ${results.date} (${cores} cores, ${process.version}, ${generator.name}, ${
        pinned ? 'servers on core 0, load on core 1' : 'unpinned'
      }, ${CONNECTIONS} connections, ${DURATION_S}s per run)`,
    );
    const avg = (runs: Load[]): Load => ({
      rps: mean(runs.map((r) => r.rps)),
      p50: mean(runs.map((r) => r.p50)),
      p99: mean(runs.map((r) => r.p99)),
      non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
      errors: runs.reduce((a, r) => a + r.errors, 0),
      requests: runs.reduce((a, r) => a + r.requests, 0),
      ...(meanCpu(runs) === undefined ? {} : { cpuUsPerRequest: meanCpu(runs) }),
    });
    console.table({
      'bare Fastify GET / (baseline)': row(
        avg(baselineRuns),
        '100%',
        `runs: ${baselineRuns.map((r) => f(r.rps)).join(', ')}`,
      ),
      'GET /healthz': row(
        healthz,
        pct(targets.healthz.share),
        '≥ 80%',
        targets.healthz.met,
        results.healthz.cpuShare,
      ),
      'whoami hot': row(
        hot,
        `${pct(targets.whoamiHot.share)}, p99 ${f(targets.whoamiHot.p99Ratio, 1)}×`,
        '≥ 50%, p99 ≤ 3×',
        targets.whoamiHot.met,
        results.whoamiHot.cpuShare,
      ),
      'whoami cold': row(
        cold,
        pct(targets.whoamiCold.share),
        '≥ 30%',
        targets.whoamiCold.met,
        results.whoamiCold.cpuShare,
      ),
      'host route, no plugin': row(avg(hostWithout), '', ''),
      'host route, plugin': row(
        avg(hostWith),
        `${pct(hostShare)} of no plugin`,
        '≥ 95%',
        targets.hostRoute.met,
        results.hostRoute.cpuShare,
      ),
      'login POST /token': row(
        login,
        `${pct(targets.login.share)} of ${f(argon2Limit, 1)}/s`,
        '≥ 90% of argon2id',
        targets.login.met,
      ),
      'whoami during logins': row(mixedWhoami, `p99 ${f(results.mixed.p99RatioToUnloaded, 1)}× unloaded`, ''),
    });
    console.log(
      `argon2id limit of the server's core (m=19456 t=2 p=1, verifies/s): ${f(limitBefore, 1)} before, ${f(limitAfter, 1)} after the login run; CPU per verify ${f(hashCpuUs)} µs, per login beside its hash ${f(loginOwnCpuUs ?? Number.NaN)} µs`,
    );
    console.log(
      `resident memory of the server: ${f(rssBefore ?? Number.NaN)} MiB before, ${f(rssAfter ?? Number.NaN)} MiB after ${sent} whoami requests with ${MEMORY_TOKENS} distinct tokens of ${MEMORY_USERS} users (${refused} refused)`,
    );
    const missed = Object.entries(targets)
      .filter(([, t]) => !t.met)
      .map(([name]) => name);
    console.log(missed.length === 0 ? 'all targets met' : `targets missed: ${missed.join(', ')}`);
  } finally {
    await Promise.all(children.map(stopProcess));
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (!args.includes('--scale-only')) await runBench();
if (args.includes('--scale') || args.includes('--scale-only')) await runScaleFromEnvironment();
// Done: a handle left by a library (a key ring's timer) must not keep the bench waiting.
process.exit(process.exitCode ?? 0);
