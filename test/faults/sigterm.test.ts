/**
 * SIGTERM while requests are in flight on keep-alive connections, slow password logins among
 * them: each one gets a whole HTTP response, none a reset connection, and the process exits 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { NO_RATE_LIMITS, PASSWORD } from '../support/gatehouse.ts';
import { eventually } from '../support/tcp-proxy.ts';

const BIN = resolve('bin/gatehouse.js');
const CONNECTIONS = 12;

interface Outcome {
  status?: number;
  body?: string;
  error?: string;
}

function send(
  agent: Agent,
  base: string,
  method: string,
  path: string,
  body?: { type: string; text: string },
): Promise<Outcome> {
  return new Promise((resolveOutcome) => {
    const req = request(
      `${base}${path}`,
      {
        agent,
        method,
        headers: body ? { 'content-type': body.type, 'content-length': Buffer.byteLength(body.text) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolveOutcome({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (error) => resolveOutcome({ error: String(error) }));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolveOutcome({ error: error.code ?? String(error) }));
    if (body) req.write(body.text);
    req.end();
  });
}

describe('SIGTERM under load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-term-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every in-flight request on a keep-alive connection gets a whole response, and the process exits 0', async () => {
    // Real argon2 parameters: the logins are slow, and most of them wait in the hash queue.
    const child: ChildProcess = spawn(process.execPath, [BIN, 'serve'], {
      env: {
        PATH: process.env.PATH ?? '',
        GATEHOUSE_PORT: '0',
        GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
        GATEHOUSE_ISSUER: 'http://gatehouse.term.test',
        ...NO_RATE_LIMITS,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exit = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    await eventually(() => /Server listening at/.test(output), 20_000, 'the server listens');
    const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? '';
    const incoming = () => output.match(/"msg":"incoming request"/g)?.length ?? 0;

    const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    try {
      const registered = await send(agent, base, 'POST', '/register', {
        type: 'application/json',
        text: JSON.stringify({ username: 'alice', email: 'alice@example.com', password: PASSWORD }),
      });
      assert.equal(registered.status, 201, registered.body ?? registered.error);
      // Open every connection first, so the requests below travel on reused keep-alive sockets.
      const warm = await Promise.all(
        Array.from({ length: CONNECTIONS }, () => send(agent, base, 'GET', '/healthz')),
      );
      assert.ok(warm.every((outcome) => outcome.status === 200));
      const before = incoming();

      const login = {
        type: 'application/x-www-form-urlencoded',
        text: `username=alice&password=${encodeURIComponent(PASSWORD)}`,
      };
      const inFlight = Array.from({ length: CONNECTIONS }, (_, i) =>
        i % 3 === 2 ? send(agent, base, 'GET', '/') : send(agent, base, 'POST', '/token', login),
      );
      // Every request has reached the server before the signal.
      await eventually(() => incoming() - before >= CONNECTIONS, 10_000, 'the server received every request');
      child.kill('SIGTERM');

      const outcomes = await Promise.all(inFlight);
      for (const outcome of outcomes) {
        assert.equal(outcome.error, undefined, `a request failed: ${outcome.error}`);
        assert.ok(
          outcome.status === 200 || outcome.status === 503,
          `status ${outcome.status}: ${outcome.body}`,
        );
      }
      assert.ok(
        outcomes.filter((o) => o.status === 200 && o.body?.includes('access_token')).length >= 1,
        'slow logins in flight at the signal completed',
      );
      assert.equal(await exit, 0, output.slice(-2000));
    } finally {
      agent.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
