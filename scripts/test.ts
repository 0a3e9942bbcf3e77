/**
 * `npm test`: every test file in its own `node --test` process, in two tiers.
 *  1. Files that share nothing run side by side, as many at once as the machine has cores
 *     (`GATEHOUSE_TEST_CONCURRENCY` overrides), the longest first (durations of the last run are
 *     kept in .cache/test-durations.json).
 *  2. Files that measure processes, signals or timing-sensitive behaviour under load (`ALONE`)
 *     run afterwards, one at a time, with the machine to themselves.
 * Each file's output is printed whole when it ends, so files never interleave; a summary with
 * every file's duration ends the run. Exits 1 if any file failed.
 * Arguments narrow the run to the files whose path contains one of them: `npm test -- mail/`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { glob } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const PATTERNS = ['test/**/*.test.ts', 'examples/**/*.test.ts'];
const DURATIONS = join(ROOT, '.cache', 'test-durations.json');
const FILE_TIMEOUT_MS = 600_000;

/**
 * Files that send signals or count on timeouts and event propagation, so want the machine to
 * themselves. (The scale run starts processes too but judges no figure: it runs with the rest.)
 */
const ALONE = new Set([
  'test/cluster/three-processes.test.ts',
  'test/faults/database-outage.test.ts',
  'test/faults/sigkill.test.ts',
  'test/faults/sigterm.test.ts',
  'test/faults/sqlite-lock.test.ts',
]);

interface Outcome {
  readonly file: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly tests: number;
  readonly failed: number;
}

const concurrency = Math.max(1, Number(process.env.GATEHOUSE_TEST_CONCURRENCY) || availableParallelism());
const filters = process.argv.slice(2);

function readDurations(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(DURATIONS, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

const count = (output: string, label: string) =>
  Number(new RegExp(`^ℹ ${label} (\\d+)$`, 'm').exec(output)?.[1] ?? 0);

function runFile(file: string): Promise<Outcome> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ['--test', '--test-force-exit', `--test-timeout=${FILE_TIMEOUT_MS / 2}`, '--test-reporter=spec', file],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_OPTIONS: `--conditions=gatehouse-source ${process.env.NODE_OPTIONS ?? ''}`.trim(),
        FORCE_COLOR: process.env.FORCE_COLOR ?? (process.stdout.isTTY ? '1' : '0'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), FILE_TIMEOUT_MS);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const output = Buffer.concat(chunks).toString('utf8');
      const ms = performance.now() - started;
      const ok = code === 0;
      process.stdout.write(
        `\n── ${file} (${(ms / 1000).toFixed(1)} s) ${ok ? 'passed' : 'FAILED'}\n${output}`,
      );
      if (signal) process.stdout.write(`\n${file}: killed by ${signal} after ${FILE_TIMEOUT_MS / 1000} s\n`);
      resolve({ file, ok, ms, tests: count(output, 'tests'), failed: count(output, 'fail') });
    });
  });
}

async function pool(files: readonly string[], width: number): Promise<Outcome[]> {
  const queue = [...files];
  const outcomes: Outcome[] = [];
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift())
      outcomes.push(await runFile(file));
  };
  await Promise.all(Array.from({ length: Math.min(width, files.length) }, worker));
  return outcomes;
}

const started = performance.now();
const files: string[] = [];
for (const pattern of PATTERNS) for await (const file of glob(pattern, { cwd: ROOT })) files.push(file);
const chosen = files.filter((file) => filters.length === 0 || filters.some((part) => file.includes(part)));
const previous = readDurations();
// Longest first, so the last file to start is a short one; unknown files count as long.
const longestFirst = (a: string, b: string) => (previous[b] ?? 60_000) - (previous[a] ?? 60_000);
const shared = chosen.filter((file) => !ALONE.has(file)).sort(longestFirst);
const alone = chosen.filter((file) => ALONE.has(file)).sort();

const outcomes = [...(await pool(shared, concurrency)), ...(await pool(alone, 1))];

mkdirSync(dirname(DURATIONS), { recursive: true });
writeFileSync(
  DURATIONS,
  `${JSON.stringify({ ...previous, ...Object.fromEntries(outcomes.map((o) => [o.file, Math.round(o.ms)])) }, null, 1)}\n`,
);

const failed = outcomes.filter((o) => !o.ok);
const tests = outcomes.reduce((sum, o) => sum + o.tests, 0);
const failedTests = outcomes.reduce((sum, o) => sum + o.failed, 0);
process.stdout.write('\n── durations\n');
for (const o of [...outcomes].sort((a, b) => b.ms - a.ms))
  process.stdout.write(`${(o.ms / 1000).toFixed(1).padStart(7)} s  ${o.ok ? ' ' : '✖'} ${o.file}\n`);
process.stdout.write(
  `\n${outcomes.length} files (${failed.length} failed), ${tests} tests (${failedTests} failed), ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s (${concurrency} at a time, then ${alone.length} alone)\n`,
);
if (chosen.length === 0) process.stdout.write(`no test file matches ${filters.join(' ')}\n`);
for (const o of failed) process.stdout.write(`✖ ${o.file}\n`);
process.exitCode = failed.length > 0 || chosen.length === 0 ? 1 : 0;
