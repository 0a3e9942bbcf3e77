/**
 * Starts `gatehouse serve` as a user would (SQLite file, info logs to a file) on a free port.
 * `extraEnv` may name another database or issuer (the scale run: PostgreSQL, several processes).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { freePort } from '../test/support/process.ts';

export interface BenchServer {
  readonly url: string;
  /** The server process (its resident memory is read from /proc). */
  readonly pid: number | undefined;
  readonly databaseUrl: string;
  readonly issuer: string;
  stop(): Promise<void>;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Servers on core 0 and the load generator on core 1 where the machine has two cores and
 * taskset; this process (token minting, bookkeeping) moves to core 1 too.
 */
export function pinCores(): { pinned: boolean; serverCore?: number; loadCore?: number } {
  if (availableParallelism() < 2 || !hasTaskset()) return { pinned: false };
  execFileSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  return { pinned: true, serverCore: 0, loadCore: 1 };
}

/** `node args…`, pinned to `core` with taskset when one is given. */
export function spawnNode(
  args: readonly string[],
  core: number | undefined,
  env: NodeJS.ProcessEnv,
): ChildProcess {
  const node = [process.execPath, ...args];
  const [command, ...rest] = core === undefined ? node : ['taskset', '-c', String(core), ...node];
  return spawn(command ?? process.execPath, rest, { env, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** Polls `url` until it answers 2xx (or the process exits, or 30 s pass). */
export async function waitUntilServing(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${url} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A reference app of bench/apps.ts in its own process, pinned like the Gatehouse server. */
export async function startApp(
  kind: 'bare' | 'host' | 'host-gatehouse',
  dir: string,
  core: number | undefined,
  nodeArgs: readonly string[] = [],
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnNode([...nodeArgs, 'bench/apps.ts', kind, String(port), dir], core, {
    PATH: process.env.PATH ?? '',
  });
  await waitUntilServing(`${url}${kind === 'bare' ? '/' : '/items'}`, child);
  return { url, child };
}

export function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * `core`: pin the server to this core (taskset), as `npm run bench` does on a 2-core machine.
 * `nodeArgs`: options for node itself (the profiler's `--cpu-prof`).
 */
export async function startServer(
  dir: string,
  extraEnv: Record<string, string> = {},
  options: { readonly core?: number | undefined; readonly nodeArgs?: readonly string[] } = {},
): Promise<BenchServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const databaseUrl = extraEnv.GATEHOUSE_DATABASE_URL ?? `sqlite:${dir}/bench.db`;
  const issuer = extraEnv.GATEHOUSE_ISSUER ?? url;
  const child = spawnNode([...(options.nodeArgs ?? []), 'src/cli.ts', 'serve'], options.core, {
    // Settings given to `npm run bench` (GATEHOUSE_HASH_CONCURRENCY=2, …) reach the server.
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('GATEHOUSE_'))),
    PATH: process.env.PATH ?? '',
    GATEHOUSE_PORT: String(port),
    GATEHOUSE_DATABASE_URL: databaseUrl,
    GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_LOG_LEVEL: 'info',
    GATEHOUSE_LOG_FILE: `${dir}/bench-${port}.log`,
    // The bench measures throughput from one client address; per-IP limits would only measure 429s.
    GATEHOUSE_RATE_LIMIT_TOKEN: 'off',
    GATEHOUSE_RATE_LIMIT_REGISTER: 'off',
    ...extraEnv,
  });
  await waitUntilServing(`${url}/healthz`, child);
  return {
    url,
    databaseUrl,
    issuer,
    pid: child.pid,
    stop: () => stopProcess(child),
  };
}
