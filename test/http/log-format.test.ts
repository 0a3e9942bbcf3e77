/**
 * Logs for people and for machines: GATEHOUSE_LOG_FORMAT=pretty writes readable lines, json one
 * JSON object per line, and auto (the default) is pretty only when standard output is a terminal.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { resolveLogFormat } from '../../src/server.ts';
import { createTestApp, FAST_ARGON2 } from '../support/gatehouse.ts';

const isJsonLine = (line: string) => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};

test('GATEHOUSE_LOG_FORMAT=pretty writes readable lines, still without secrets', async () => {
  const t = await createTestApp({ env: { GATEHOUSE_LOG_FORMAT: 'pretty' } });
  try {
    await t.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: 'Bearer secret-token-value' },
    });
    const lines = t.logs().split('\n').filter(Boolean);
    assert.ok(
      lines.some((line) => /INFO.*incoming request/.test(line)),
      t.logs(),
    );
    assert.ok(!lines.some(isJsonLine), 'no JSON lines');
    assert.doesNotMatch(t.logs(), /secret-token-value/);
  } finally {
    await t.close();
  }
});

test('GATEHOUSE_LOG_FORMAT=json and auto (not a terminal) write JSON lines', async () => {
  for (const format of ['json', 'auto']) {
    const t = await createTestApp({ env: { GATEHOUSE_LOG_FORMAT: format } });
    try {
      await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
      const lines = t.logs().split('\n').filter(Boolean);
      assert.ok(lines.length > 0 && lines.every(isJsonLine), `${format}: ${t.logs()}`);
    } finally {
      await t.close();
    }
  }
});

test('auto is pretty for a terminal and JSON otherwise; an explicit format wins', () => {
  assert.equal(resolveLogFormat('auto', true), 'pretty');
  assert.equal(resolveLogFormat('auto', false), 'json');
  assert.equal(resolveLogFormat('json', true), 'json');
  assert.equal(resolveLogFormat('pretty', false), 'pretty');
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-log-format-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('gatehouse serve on a terminal logs pretty lines', {
  skip: !hasScript && 'needs script(1) for a terminal',
}, async () => {
  // script(1) runs the server with a pseudo-terminal as its standard output.
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(resolve('bin/gatehouse.js'))} serve`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEHOUSE_PORT: '0',
      GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'tty.db')}`,
      GATEHOUSE_OUTBOX_DIR: join(dir, 'outbox'),
      ...FAST_ARGON2,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  try {
    await new Promise<void>((resolveListening, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Server listening at/.test(output)) resolveListening();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
    });
    const line = output.split(/\r?\n/).find((l) => l.includes('Server listening at')) ?? '';
    assert.ok(!isJsonLine(line.trim()), `a pretty line: ${line}`);
    assert.match(line, /INFO/);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});
