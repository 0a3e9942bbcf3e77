/**
 * The curl lines of the README and docs/, run as written (with the port this test's server got)
 * against `gatehouse serve`: what the documentation promises is what a user at a shell gets.
 * test/docs.test.ts checks that every example block is run here, in test/readme-examples.test.ts,
 * or named there with the reason it is not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ENCRYPTION_KEY } from './factors/support.ts';
import { codeBlock, codeBlocks } from './support/doc-blocks.ts';
import { FAST_ARGON2 } from './support/gatehouse.ts';
import { type Running, start } from './support/process.ts';

const missing = ['/usr/bin/curl', '/usr/bin/jq'].filter((tool) => !existsSync(tool));

/** The ```sh block under `heading` in `file`. */
const shellBlock = (file: string, heading: string) => codeBlock(file, heading, 'sh');

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

describe('README and docs curl examples against gatehouse serve', {
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
        GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY,
        ...FAST_ARGON2,
      },
      /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
    );
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('README, the 60-second tour: register, log in, /users/me', () => {
    const { stdout, stderr, status } = runShell(shellBlock('README.md', '## A 60-second tour'), server.url);
    assert.equal(status, 0, stderr);
    const [registered, me] = outputs(stdout) as { username: string; roles: string[] }[];
    assert.equal(registered?.username, 'alice');
    assert.equal(me?.username, 'alice');
    assert.deepEqual(me?.roles, ['user']);
  });

  test('docs/api.md, API keys: a key with users:read lists users through X-API-Key and is refused /audit', () => {
    const { stdout, stderr, status } = runShell(shellBlock('docs/api.md', '## API keys'), server.url);
    assert.equal(status, 0, stderr);
    const [page, auditStatus] = outputs(stdout) as [{ items: { username: string }[] }, string];
    assert.ok(page.items.some((user: { username: string }) => user.username === 'admin'));
    assert.equal(auditStatus, '403');
  });

  test('docs/tokens-and-sessions.md, step-up: POST /reauthenticate returns a fresh token that may create an API key', () => {
    const { stdout, stderr, status } = runShell(
      shellBlock('docs/tokens-and-sessions.md', '### Step-up (recent sign-in)'),
      server.url,
    );
    assert.equal(status, 0, stderr);
    assert.deepEqual(outputs(stdout), ['201']);
  });

  test('docs/authorization.md, admin API: the admin finds alice and makes her a moderator', () => {
    const { stdout, stderr, status } = runShell(
      shellBlock('docs/authorization.md', '### Admin API'),
      server.url,
    );
    assert.equal(status, 0, stderr);
    const [page, updated] = outputs(stdout) as [{ items: { username: string }[] }, { roles: string[] }];
    assert.deepEqual(
      page.items.map((user) => user.username),
      ['alice'],
    );
    assert.deepEqual([...updated.roles].sort(), ['moderator', 'user']);
  });

  test('docs/openid-provider.md, introspection: a resource-server client sees the admin token active, junk inactive', () => {
    const { stdout, stderr, status } = runShell(
      shellBlock('docs/openid-provider.md', '## Introspection and revocation'),
      server.url,
    );
    assert.equal(status, 0, stderr);
    const [active, inactive] = outputs(stdout) as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(active.active, true);
    assert.equal(active.username, 'admin');
    assert.equal(active.token_type, 'Bearer');
    assert.deepEqual(inactive, { active: false });
  });

  test('docs/email-and-pages.md, email: reset and magic link answer 202 alike; a made-up token is refused', () => {
    const blocks = codeBlocks('docs/email-and-pages.md').filter(
      (block) =>
        block.heading === '## Email' && block.lang === 'sh' && block.code.includes('forgot-password'),
    );
    assert.equal(blocks.length, 1);
    const { stdout, stderr, status } = runShell(blocks[0]?.code ?? '', server.url);
    assert.equal(status, 0, stderr);
    const [forgot, reset, magic, token] = outputs(stdout) as { detail?: string; message?: string }[];
    assert.equal(forgot?.message, 'If an account has this address, a reset link is on its way');
    assert.equal(reset?.detail, 'Invalid or expired token');
    assert.ok(magic?.message);
    assert.ok(token?.detail);
  });

  // Late: alice signs in with two factors from here on.
  test('README, two-factor sign-in with curl: an authenticator app, 403 mfa_required, then the code grant', () => {
    const { stdout, stderr, status } = runShell(
      shellBlock('README.md', '## Two-factor sign-in with curl'),
      server.url,
    );
    assert.equal(status, 0, stderr + stdout);
    assert.deepEqual(outputs(stdout), [
      '10',
      { error: 'mfa_required', factors: ['totp'] },
      { amr: ['pwd', 'otp', 'mfa'], acr: 'urn:gatehouse:acr:mfa' },
    ]);
  });

  // Last: it leaves alice's pair from this address blocked.
  test('docs/security.md, failed-login throttle: five wrong passwords, then 429 with Retry-After', () => {
    const { stdout, stderr, status } = runShell(
      shellBlock('docs/security.md', '### Failed-login throttle'),
      server.url,
    );
    assert.equal(status, 0, stderr);
    const lines = stdout.split(/\r?\n/);
    assert.deepEqual(lines.slice(0, 5), ['401', '401', '401', '401', '401']);
    assert.match(lines[5] ?? '', /^HTTP\/1\.1 429 Too Many Requests$/);
    assert.ok(lines.some((line) => /^retry-after: \d+$/i.test(line)));
    assert.ok(stdout.includes('"detail":"Too many failed login attempts"'));
  });
});
