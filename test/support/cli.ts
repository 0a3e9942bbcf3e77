/** Runs the `gatehouse` command in this process through `main`, with the console captured. */
import { format } from 'node:util';
import { main } from '../../src/cli.ts';

/** `gatehouse ...args` with `env` as its environment: its exit status and what it printed. */
export async function runGatehouse(env: Record<string, string | undefined>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => void out.push(`${format(...parts)}\n`);
  console.error = (...parts: unknown[]) => void err.push(`${format(...parts)}\n`);
  try {
    const code = await main(args, env);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    console.log = log;
    console.error = error;
  }
}
