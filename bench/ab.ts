/**
 * `node bench/ab.ts <other checkout>`: the same routes on two versions of Gatehouse, alternated
 * in rounds under the bench's pinning, so a busy machine weighs on both alike. "A" is the
 * checkout given (e.g. `git archive <commit> | tar -x -C /tmp/before`, with node_modules linked),
 * "B" this one. Prints req/s as a share of the bare Fastify app measured in the same rounds, and
 * the server's CPU time per request (for logins, the argon2id hash's included). BENCH_DURATION (default 5) seconds per run, BENCH_ROUNDS (3).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../test/support/process.ts';
import { prepareServer } from './fixtures.ts';
import { createLoadGenerator, type Load, type LoadRequest } from './load.ts';
import { pinCores, stopProcess, waitUntilServing } from './server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const [otherCheckout] = process.argv.slice(2);
if (otherCheckout === undefined) throw new Error('usage: node bench/ab.ts <other checkout>');
const checkouts = { A: resolve(otherCheckout), B: resolve(import.meta.dirname, '..') };

const { serverCore, loadCore } = pinCores();
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ab-'));
const generator = createLoadGenerator({ core: loadCore, workDir: dir, log: console.log });
const children: ChildProcess[] = [];

function startIn(cwd: string, args: string[], env: Record<string, string>): ChildProcess {
  const node = [process.execPath, ...args];
  const [command, ...rest] = serverCore === undefined ? node : ['taskset', '-c', String(serverCore), ...node];
  const child = spawn(command ?? process.execPath, rest, {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

async function gatehouseIn(name: string, cwd: string) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const databaseUrl = `sqlite:${dir}/${name}.db`;
  const child = startIn(cwd, ['src/cli.ts', 'serve'], {
    GATEHOUSE_PORT: String(port),
    GATEHOUSE_DATABASE_URL: databaseUrl,
    GATEHOUSE_ISSUER: url,
    GATEHOUSE_LOG_LEVEL: 'info',
    GATEHOUSE_LOG_FILE: `${dir}/${name}.log`,
    GATEHOUSE_RATE_LIMIT_TOKEN: 'off',
    GATEHOUSE_RATE_LIMIT_REGISTER: 'off',
  });
  await waitUntilServing(`${url}/healthz`, child);
  const server = { url, databaseUrl, issuer: url, pid: child.pid, stop: () => stopProcess(child) };
  const fixtures = await prepareServer(server);
  const cold = Array.from({ length: 60_000 }, () => fixtures.mint(fixtures.userId, 'bench0'));
  return { server, fixtures, cold };
}

async function appIn(cwd: string, kind: 'bare' | 'host-gatehouse', name: string = kind) {
  const port = await freePort();
  const appDir = join(dir, name);
  mkdirSync(appDir);
  const child = startIn(cwd, ['bench/apps.ts', kind, String(port), appDir], {});
  const url = `http://127.0.0.1:${port}`;
  await waitUntilServing(`${url}${kind === 'bare' ? '/' : '/items'}`, child);
  return { url, pid: child.pid };
}

const load = (request: Omit<LoadRequest, 'connections' | 'durationSeconds'>) =>
  generator.run({ connections: 32, durationSeconds: DURATION_S, ...request });

try {
  const bare = await appIn(checkouts.B, 'bare');
  const servers = { A: await gatehouseIn('a', checkouts.A), B: await gatehouseIn('b', checkouts.B) };
  const hosts = {
    A: await appIn(checkouts.A, 'host-gatehouse', 'host-a'),
    B: await appIn(checkouts.B, 'host-gatehouse', 'host-b'),
  };
  const runs = new Map<string, Load[]>();
  const add = (name: string, run: Load) => runs.set(name, [...(runs.get(name) ?? []), run]);
  for (let round = 0; round < ROUNDS; round++) {
    add('bare', await load({ url: `${bare.url}/`, serverPid: bare.pid }));
    for (const version of ['A', 'B'] as const) {
      const { server, fixtures, cold } = servers[version];
      const pid = server.pid;
      add(`healthz ${version}`, await load({ url: `${server.url}/healthz`, serverPid: pid }));
      const bearer = { authorization: `Bearer ${fixtures.hotToken}` };
      add(
        `whoami hot ${version}`,
        await load({ url: `${server.url}/users/me`, headers: bearer, serverPid: pid }),
      );
      add(
        `whoami cold ${version}`,
        await load({
          url: `${server.url}/users/me`,
          lines: { mode: 'bearer', values: cold },
          serverPid: pid,
        }),
      );
      add(
        `login ${version}`,
        await generator.run({
          url: `${server.url}/token`,
          connections: 8,
          durationSeconds: DURATION_S,
          lines: { mode: 'form', values: fixtures.users.map(fixtures.form) },
          serverPid: pid,
        }),
      );
      const host = hosts[version];
      add(`host route ${version}`, await load({ url: `${host.url}/items`, serverPid: host.pid }));
    }
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const bareRuns = runs.get('bare') ?? [];
  const bareRps = mean(bareRuns.map((r) => r.rps));
  const bareCpu = mean(bareRuns.map((r) => r.cpuUsPerRequest ?? Number.NaN));
  console.table(
    Object.fromEntries(
      [...runs].map(([name, list]) => {
        const rps = mean(list.map((r) => r.rps));
        const cpu = mean(list.map((r) => r.cpuUsPerRequest ?? Number.NaN));
        return [
          name,
          {
            'req/s': rps.toFixed(0),
            'share of bare': `${((100 * rps) / bareRps).toFixed(0)}%`,
            'cpu µs/req': cpu.toFixed(1),
            'cpu share': `${((100 * bareCpu) / cpu).toFixed(0)}%`,
            runs: list.map((r) => r.rps.toFixed(0)).join(', '),
          },
        ];
      }),
    ),
  );
} finally {
  await Promise.all(children.map(stopProcess));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
