/**
 * The README's curl lines, run as written (with the port this test's server got) against
 * `gatehouse serve`: what the documentation promises is what a user at a shell gets.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FAST_ARGON2 } from './support/gatehouse.ts';
import { type Running, start } from './support/process.ts';

const README = readFileSync('README.md', 'utf8');
const missing = ['/usr/bin/curl', '/usr/bin/jq'].filter((tool) => !existsSync(tool));

/** The first ```sh block after `heading`. */
function shellBlock(heading: string): string {
  const from = README.indexOf(`\n${heading}\n`);
  assert.ok(from >= 0, `README has ${heading}`);
  const match = /```sh\n([\s\S]*?)```/.exec(README.slice(from));
  assert.ok(match?.[1], `a sh block under ${heading}`);
  return match[1];
}

function runShell(script: string, url: string): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(
    'bash',
    ['-euo', 'pipefail', '-c', script.replaceAll('http://127.0.0.1:8000', url)],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

/** Splits what several curl calls printed back to back into JSON values and bare lines. */
function outputs(stdout: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let inString = false;
  let startAt = 0;
  for (let i = 0; i < stdout.length; i++) {
    const c = stdout[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth === 0) startAt = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) values.push(JSON.parse(stdout.slice(startAt, i + 1)));
    } else if (depth === 0 && c !== undefined && /\S/.test(c)) {
      const end = stdout.indexOf('\n', i);
      values.push(stdout.slice(i, end < 0 ? undefined : end));
      i = end < 0 ? stdout.length : end;
    }
  }
  return values;
}

describe('README curl examples against gatehouse serve', {
  skip: missing.length > 0 ? `needs ${missing.join(', ')}` : false,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
  let server: Running;
  before(async () => {
    server = await start(
      [resolve('bin/gatehouse.js'), 'serve'],
      {
        GATEHOUSE_PORT: '0',
        GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
        GATEHOUSE_ADMIN_USERNAME: 'admin',
        GATEHOUSE_ADMIN_EMAIL: 'admin@example.com',
        GATEHOUSE_ADMIN_PASSWORD: 'correct horse battery',
        ...FAST_ARGON2,
      },
      /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
    );
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Quick start: register, log in, /users/me', () => {
    const { stdout, stderr, status } = runShell(shellBlock('Try it:'), server.url);
    assert.equal(status, 0, stderr);
    const [registered, me] = outputs(stdout) as { username: string; roles: string[] }[];
    assert.equal(registered?.username, 'alice');
    assert.equal(me?.username, 'alice');
    assert.deepEqual(me?.roles, ['user']);
  });

  test('API keys: a key with users:read lists users through X-API-Key and is refused /audit', () => {
    const { stdout, stderr, status } = runShell(shellBlock('## API keys'), server.url);
    assert.equal(status, 0, stderr);
    const [page, auditStatus] = outputs(stdout) as [{ items: { username: string }[] }, string];
    assert.ok(page.items.some((user: { username: string }) => user.username === 'admin'));
    assert.equal(auditStatus, '403');
  });

  test('Step-up: POST /reauthenticate returns a fresh token that may create an API key', () => {
    const { stdout, stderr, status } = runShell(shellBlock('### Step-up (recent sign-in)'), server.url);
    assert.equal(status, 0, stderr);
    assert.deepEqual(outputs(stdout), ['201']);
  });
});
