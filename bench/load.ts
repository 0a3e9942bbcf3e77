/**
 * The bench's load generator: wrk (Debian's `wrk`, installed here when missing and allowed) on
 * one thread, pinned to the core the servers do not use; autocannon when wrk cannot be had.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';

export interface Load {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly requests: number;
  /**
   * CPU time (user + system) the server process spent per request answered, in microseconds,
   * when `serverPid` was given: unlike req/s, it hardly moves when other work shares the core.
   */
  readonly cpuUsPerRequest?: number;
}

export interface LoadRequest {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  /** One bearer token per request, in turn (`bearer`), or one form body per POST (`form`). */
  readonly lines?: { readonly mode: 'bearer' | 'form'; readonly values: readonly string[] };
  readonly headers?: Readonly<Record<string, string>>;
  /** The server's process, whose CPU time per request is then measured (Linux `/proc`). */
  readonly serverPid?: number | undefined;
}

export interface LoadGenerator {
  readonly name: 'wrk' | 'autocannon';
  run(request: LoadRequest): Promise<Load>;
}

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** wrk when it is on PATH or apt-get can install it (as root); undefined otherwise. */
function ensureWrk(log: (line: string) => void): boolean {
  if (has('wrk')) return true;
  if (process.env.BENCH_LOAD === 'autocannon' || process.getuid?.() !== 0 || !has('apt-get')) return false;
  log('installing wrk (apt-get install -y wrk)…');
  try {
    execFileSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return has('wrk');
}

const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a process so far (`/proc/<pid>/stat`), or undefined. */
function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // The fields after the parenthesised command name; utime and stime are the 14th and 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Adds `cpuUsPerRequest` to a generator's runs that name their server's process. */
function measuringCpu(generator: LoadGenerator): LoadGenerator {
  return {
    name: generator.name,
    async run(request) {
      const before = cpuSecondsOf(request.serverPid);
      const load = await generator.run(request);
      const after = cpuSecondsOf(request.serverPid);
      if (before === undefined || after === undefined || load.requests === 0) return load;
      return { ...load, cpuUsPerRequest: ((after - before) * 1e6) / load.requests };
    },
  };
}

export function createLoadGenerator(options: {
  readonly core: number | undefined;
  readonly workDir: string;
  readonly log: (line: string) => void;
}): LoadGenerator {
  return measuringCpu(createGenerator(options));
}

function createGenerator(options: {
  /** The core wrk runs on (`taskset -c`), or undefined. */
  readonly core: number | undefined;
  readonly workDir: string;
  readonly log: (line: string) => void;
}): LoadGenerator {
  const { core, workDir, log } = options;
  if (process.env.BENCH_LOAD !== 'autocannon' && ensureWrk(log)) {
    const script = new URL('./wrk.lua', import.meta.url).pathname;
    let files = 0;
    return {
      name: 'wrk',
      run(request) {
        const env: Record<string, string> = { ...(process.env as Record<string, string>) };
        if (request.lines !== undefined) {
          const file = join(workDir, `wrk-lines-${files++}.txt`);
          writeFileSync(file, `${request.lines.values.join('\n')}\n`);
          env.WRK_LINES = file;
          env.WRK_MODE = request.lines.mode;
        }
        const headers = Object.entries(request.headers ?? {}).flatMap(([name, value]) => [
          '-H',
          `${name}: ${value}`,
        ]);
        const wrk = [
          'wrk',
          '-t1',
          `-c${request.connections}`,
          `-d${request.durationSeconds}s`,
          '--timeout',
          '10s',
          '-s',
          script,
          ...headers,
          request.url,
        ];
        const [command, ...args] = core === undefined ? wrk : ['taskset', '-c', String(core), ...wrk];
        return new Promise((resolve, reject) => {
          execFile(command ?? 'wrk', args, { env, maxBuffer: 1 << 20 }, (error, stdout) => {
            const line = /WRK_JSON (.*)/.exec(stdout)?.[1];
            if (error || line === undefined) return reject(error ?? new Error(`wrk said: ${stdout}`));
            const r = JSON.parse(line) as Record<string, number>;
            const requests = r.requests ?? 0;
            resolve({
              rps: requests / ((r.durationUs ?? 1) / 1e6),
              p50: (r.p50Us ?? 0) / 1000,
              p99: (r.p99Us ?? 0) / 1000,
              non2xx: r.non2xx ?? 0,
              errors: r.errors ?? 0,
              requests,
            });
          });
        });
      },
    };
  }
  log('wrk unavailable: autocannon in this process generates the load');
  return {
    name: 'autocannon',
    async run(request) {
      let next = 0;
      const { lines } = request;
      const result = await autocannon({
        url: request.url,
        connections: request.connections,
        duration: request.durationSeconds,
        headers: { ...request.headers },
        ...(lines === undefined
          ? {}
          : {
              requests: [
                {
                  setupRequest: (req) => {
                    const value = lines.values[next++ % lines.values.length] ?? '';
                    if (lines.mode === 'form') {
                      req.method = 'POST';
                      req.headers = { ...req.headers, 'content-type': 'application/x-www-form-urlencoded' };
                      req.body = value;
                    } else {
                      req.headers = { ...req.headers, authorization: `Bearer ${value}` };
                    }
                    return req;
                  },
                },
              ],
            }),
      });
      return {
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors,
        requests: result.requests.total,
      };
    },
  };
}
