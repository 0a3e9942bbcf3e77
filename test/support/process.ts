/** Servers run as child processes in tests, as users run them. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where spawned servers write mail unless a test says otherwise: never the repository's ./data. */
const TEST_OUTBOX_DIR = join(tmpdir(), 'gatehouse-test-outbox');

export interface Running {
  readonly url: string;
  /** Everything the process wrote up to the listening line. */
  readonly output: string;
  stop(): Promise<void>;
}

/** Spawns a server (in `cwd`, default this one) and resolves with the URL its first matching output line names. */
export function start(
  args: string[],
  env: Record<string, string>,
  listening: RegExp,
  cwd?: string,
): Promise<Running> {
  // `gatehouse` imported by self-reference (the examples) resolves to src/, not to a build.
  const child: ChildProcess = spawn(process.execPath, ['--conditions=gatehouse-source', ...args], {
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_OUTBOX_DIR: TEST_OUTBOX_DIR, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(cwd === undefined ? {} : { cwd }),
  });
  let output = '';
  return new Promise((resolveStart, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = listening.exec(output);
      if (match?.[1]) {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolveStart({
          url: match[1],
          output,
          stop: () =>
            new Promise<void>((resolveStop) => {
              if (child.exitCode !== null) return resolveStop();
              child.once('exit', () => resolveStop());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${output}`)));
  });
}

/** A port the OS picked; Gatehouse needs the same one across restarts, as its issuer URL names it. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
