/**
 * GATEHOUSE_LOG_FILE: the server's log lines reach the file in batches (not one write per line),
 * all of them by the time the server has closed, and appended to what the file held.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createGatehouse } from '../../src/gatehouse.ts';
import { openLogFile } from '../../src/observability/log-file.ts';
import { buildServer } from '../../src/server.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gh-log-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('lines wait in memory until 4 KiB are pending, a flush or close, and are appended in order', (t) => {
  const path = join(tempDir(t), 'app.log');
  writeFileSync(path, 'earlier\n');
  const file = openLogFile(path, { flushIntervalMs: 3_600_000 });
  file.write('one\n');
  file.write('two\n');
  assert.equal(readFileSync(path, 'utf8'), 'earlier\n', 'nothing written per line');
  file.flush();
  assert.equal(readFileSync(path, 'utf8'), 'earlier\none\ntwo\n');
  const long = `${'x'.repeat(5000)}\n`;
  file.write(long);
  assert.equal(readFileSync(path, 'utf8'), `earlier\none\ntwo\n${long}`, 'a full buffer is written at once');
  file.write('three\n');
  file.close();
  file.write('after close\n');
  assert.equal(readFileSync(path, 'utf8'), `earlier\none\ntwo\n${long}three\n`);
});

test("the server's request lines are all in the file once it has closed", async (t) => {
  const path = join(tempDir(t), 'gatehouse.log');
  const gatehouse = await createGatehouse(
    loadConfig({
      GATEHOUSE_DATABASE_URL: 'sqlite::memory:',
      GATEHOUSE_ISSUER: 'http://gatehouse.test',
      GATEHOUSE_LOG_LEVEL: 'info',
      GATEHOUSE_LOG_FILE: path,
      GATEHOUSE_LOG_FORMAT: 'json',
    }),
  );
  t.after(() => gatehouse.close());
  const app = await buildServer(gatehouse);
  for (let i = 0; i < 5; i++) assert.equal((await app.inject({ url: '/' })).statusCode, 200);
  await app.close();
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg?: string });
  assert.equal(lines.filter((line) => line.msg === 'incoming request').length, 5);
  assert.equal(lines.filter((line) => line.msg === 'request completed').length, 5);
});
