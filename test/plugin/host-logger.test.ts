/**
 * The embedded plugin logs through the host app's logger: request lines, the mail outbox and
 * background work all reach the stream the host gave Fastify, and nothing goes to the console.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import Fastify from 'fastify';
import { gatehouse } from '../../src/index.ts';
import { registerUser } from '../support/gatehouse.ts';
import { eventually } from '../support/tcp-proxy.ts';

const outboxDir = mkdtempSync(join(tmpdir(), 'gatehouse-host-logger-'));
after(() => rmSync(outboxDir, { recursive: true, force: true }));

test('mail and background failures are logged by the host app’s logger', async (t) => {
  let logged = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logged += String(chunk);
      done();
    },
  });
  const consoleLines: string[] = [];
  t.mock.method(console, 'error', (...args: unknown[]) => consoleLines.push(args.map(String).join(' ')));
  t.mock.method(console, 'warn', (...args: unknown[]) => consoleLines.push(args.map(String).join(' ')));
  const app = Fastify({ logger: { level: 'info', stream } });
  try {
    await app.register(gatehouse, {
      outboxDir,
      databaseUrl: `sqlite:${join(outboxDir, 'gatehouse.db')}`,
      issuer: 'https://api.example.com',
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
    });
    await app.ready();
    await registerUser(app, 'alice');
    await eventually(() => logged.includes('mail written to the outbox'), 10_000, 'the outbox logs the mail');
    // Without its table, the reset link's background send fails (renamed by another connection:
    // the plugin exposes no store).
    const other = new DatabaseSync(join(outboxDir, 'gatehouse.db'));
    other.exec('alter table email_tokens rename to email_tokens_gone');
    other.close();
    const forgot = await app.inject({
      method: 'POST',
      url: '/forgot-password',
      payload: { email: 'alice@example.com' },
    });
    assert.equal(forgot.statusCode, 202, forgot.body);
    await app.gatehouse.services.emailFlows.settled();
    const lines = logged
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { msg?: string; level?: number });
    assert.ok(
      lines.some((line) => line.msg === 'incoming request'),
      'request lines go to the host logger',
    );
    assert.ok(
      lines.some((line) => line.msg === 'gatehouse background work failed' && line.level === 50),
      'the failed background send is logged at error by the host logger',
    );
    assert.deepEqual(consoleLines, [], 'nothing is written to the console');
  } finally {
    await app.close();
  }
});
