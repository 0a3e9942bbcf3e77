/**
 * `npm run bench:profile -- [healthz|hot|cold|login|host…]`: CPU profiles of the bench's routes.
 * Each scenario starts its own server under `node --cpu-prof`, pinned as `npm run bench` pins
 * it, sends the bench's load for BENCH_DURATION seconds (default 10), stops the server (which
 * writes its profile) and prints the functions with the most self time and the inclusive time of
 * each part of the code, as shares of the server's busy time. The profiles stay in
 * BENCH_PROFILE_DIR (default a new directory under the system's temporary one) for DevTools.
 * Throughput with the profiler attached is printed for orientation only: compare shares.
 */
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Part, summarizeProfile } from './cpu-profile.ts';
import { prepareServer } from './fixtures.ts';
import { createLoadGenerator, type Load, type LoadRequest } from './load.ts';
import { pinCores, startApp, startServer, stopProcess } from './server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const SCENARIOS = ['healthz', 'hot', 'cold', 'login', 'host'] as const;
type Scenario = (typeof SCENARIOS)[number];

const inModule = (name: string) => (url: string) => url.includes(`/node_modules/${name}/`);
const inSource = (path: string) => (url: string) => url.endsWith(`/src/${path}`);

const PARTS: readonly Part[] = [
  ['fastify', inModule('fastify')],
  ['find-my-way (router)', inModule('find-my-way')],
  [
    'pino (logging, redaction)',
    (url) => ['pino', 'pino-std-serializers', '@pinojs/redact', 'fast-redact'].some((m) => inModule(m)(url)),
  ],
  ['log file', inSource('observability/log-file.ts')],
  [
    'metrics (ours + prom-client)',
    (url) => inSource('observability/metrics.ts')(url) || inModule('prom-client')(url),
  ],
  ['http/guards.ts', inSource('http/guards.ts')],
  ['auth/authenticate.ts', inSource('auth/authenticate.ts')],
  ['auth/tokens.ts', inSource('auth/tokens.ts')],
  ['auth/user-cache.ts', inSource('auth/user-cache.ts')],
  ['auth/sessions.ts', inSource('auth/sessions.ts')],
  ['auth/login-throttle.ts', inSource('auth/login-throttle.ts')],
  ['auth/passwords.ts', inSource('auth/passwords.ts')],
  ['store (kysely, src/store)', (url) => inModule('kysely')(url) || url.includes('/src/store/')],
  ['node:http', (url) => url.startsWith('node:_http')],
  ['node:net, streams', (url) => url === 'node:net' || url.startsWith('node:internal/streams')],
  ['garbage collector', (_url, name) => name === '(garbage collector)'],
];

async function profileScenario(scenario: Scenario, profileRoot: string): Promise<void> {
  const { serverCore, loadCore } = pinCores();
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-profile-${scenario}-`));
  const profileDir = join(profileRoot, scenario);
  mkdirSync(profileDir, { recursive: true });
  const nodeArgs = ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '500'];
  const generator = createLoadGenerator({ core: loadCore, workDir: dir, log: console.log });
  let serverPid: number | undefined;
  const load = (request: Omit<LoadRequest, 'durationSeconds' | 'connections'> & { connections?: number }) =>
    generator.run({ connections: 32, durationSeconds: DURATION_S, serverPid, ...request });
  let result: Load;
  // From the end of the load to the process's exit: what the profile has after the load.
  let loadEnd = 0;
  if (scenario === 'host') {
    const app = await startApp('host-gatehouse', dir, serverCore, nodeArgs);
    try {
      result = await load({ url: `${app.url}/items`, serverPid: app.child.pid });
      loadEnd = performance.now();
    } finally {
      await stopProcess(app.child);
    }
  } else {
    const server = await startServer(dir, {}, { core: serverCore, nodeArgs });
    serverPid = server.pid;
    try {
      const fixtures = scenario === 'healthz' ? undefined : await prepareServer(server);
      const me = `${server.url}/users/me`;
      if (fixtures === undefined) result = await load({ url: `${server.url}/healthz` });
      else if (scenario === 'hot')
        result = await load({ url: me, headers: { authorization: `Bearer ${fixtures.hotToken}` } });
      else if (scenario === 'cold') {
        const values = Array.from({ length: Math.max(60_000, DURATION_S * 10_000) }, () =>
          fixtures.mint(fixtures.userId, 'bench0'),
        );
        result = await load({ url: me, lines: { mode: 'bearer', values } });
      } else {
        const values = fixtures.users.map(fixtures.form);
        result = await load({ url: `${server.url}/token`, connections: 8, lines: { mode: 'form', values } });
      }
      loadEnd = performance.now();
    } finally {
      await server.stop();
    }
  }
  const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no profile written in ${profileDir}`);
  // The load's last second is counted out as well as its first (connections opening, warm-up).
  const skipLastMs = performance.now() - loadEnd + 1000;
  const summary = summarizeProfile(join(profileDir, file), PARTS, {
    lengthMs: (DURATION_S - 2) * 1000,
    skipLastMs,
  });
  const pct = (share: number) => `${(100 * share).toFixed(1)}%`;
  console.log(
    `\n${scenario}: ${result.rps.toFixed(0)} req/s and ${result.cpuUsPerRequest?.toFixed(0)} CPU µs/req with the profiler attached (${result.non2xx} non-2xx, ${result.errors} errors); busy ${pct(summary.busyShare)} of the load's time; ${join(profileDir, file)}`,
  );
  console.table(Object.fromEntries(summary.self.map(({ name, share }) => [name, { self: pct(share) }])));
  console.table(
    Object.fromEntries(
      summary.parts
        .filter(({ share }) => share >= 0.001)
        .map(({ part, share }) => [part, { inclusive: pct(share) }]),
    ),
  );
}

const asked = process.argv.slice(2).filter((arg) => arg !== '--');
const unknown = asked.filter((arg) => !(SCENARIOS as readonly string[]).includes(arg));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
  process.exit(2);
}
const profileRoot = process.env.BENCH_PROFILE_DIR ?? mkdtempSync(join(tmpdir(), 'gatehouse-profiles-'));
for (const scenario of asked.length === 0 ? SCENARIOS : (asked as Scenario[])) {
  await profileScenario(scenario, profileRoot);
}
process.exit(process.exitCode ?? 0);
