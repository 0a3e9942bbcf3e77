/**
 * Starts `gatehouse serve` as a user would (SQLite file, info logs to a file) on a free port.
 * `extraEnv` may name another database or issuer (the scale run: PostgreSQL, several processes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../test/support/process.ts';

export interface BenchServer {
  readonly url: string;
  readonly databaseUrl: string;
  readonly issuer: string;
  stop(): Promise<void>;
}

export async function startServer(dir: string, extraEnv: Record<string, string> = {}): Promise<BenchServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const databaseUrl = extraEnv.GATEHOUSE_DATABASE_URL ?? `sqlite:${dir}/bench.db`;
  const issuer = extraEnv.GATEHOUSE_ISSUER ?? url;
  const child: ChildProcess = spawn(process.execPath, ['src/cli.ts', 'serve'], {
    env: {
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
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('gatehouse did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    databaseUrl,
    issuer,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
