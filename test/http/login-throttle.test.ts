/**
 * Failed-login throttling against real SQLite/PostgreSQL and real counters (memory and Redis):
 * the attacks it must stop, the lock-outs it must not cause, and what it audits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { listAuditEvents } from '../../src/store/audit.ts';
import {
  createTestApp,
  DATABASES,
  PASSWORD,
  registerUser,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  type TestApp,
  uniqueRedisPrefix,
} from '../support/gatehouse.ts';

const WRONG = 'not the password';
const MINUTE = 60_000;

const STORES: readonly { name: string; env: () => Record<string, string> }[] = [
  { name: 'memory', env: () => ({}) },
  ...(TEST_REDIS_URL
    ? [
        {
          name: 'redis',
          env: () => ({
            GATEHOUSE_REDIS_URL: TEST_REDIS_URL ?? '',
            GATEHOUSE_REDIS_PREFIX: uniqueRedisPrefix(),
          }),
        },
      ]
    : []),
];

// Clients are told apart by X-Forwarded-For from the trusted loopback proxy (inject's address).
const THROTTLE = { GATEHOUSE_LOGIN_MAX_FAILURES: '5', GATEHOUSE_TRUST_PROXY: 'loopback' };

type Route = 'token' | 'login' | 'basic';

function attempt(t: TestApp, ip: string, username: string, password: string, route: Route = 'token') {
  const headers = { 'x-forwarded-for': ip };
  if (route === 'login') {
    return t.app.inject({ method: 'POST', url: '/login', headers, payload: { username, password } });
  }
  if (route === 'basic') {
    const credentials = Buffer.from(`${username}:${password}`).toString('base64');
    return t.app.inject({
      method: 'GET',
      url: '/protected/basic',
      headers: { ...headers, authorization: `Basic ${credentials}` },
    });
  }
  return t.app.inject({
    method: 'POST',
    url: '/token',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ username, password }).toString(),
  });
}

async function statuses(
  t: TestApp,
  ip: string,
  username: string,
  password: string,
  times: number,
): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < times; i++) seen.push((await attempt(t, ip, username, password)).statusCode);
  return seen;
}

function assertThrottled(response: LightMyRequestResponse, retryAfterSeconds?: number): void {
  assert.equal(response.statusCode, 429, response.body);
  assert.deepEqual(response.json(), { detail: 'Too many failed login attempts' });
  const retryAfter = Number(response.headers['retry-after']);
  if (retryAfterSeconds === undefined)
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  else assert.equal(retryAfter, retryAfterSeconds);
}

const events = async (t: TestApp, event: string) =>
  (await listAuditEvents(t.gatehouse.store.db, { event, limit: 1000 })).reverse();

for (const database of DATABASES) {
  for (const counters of STORES) {
    describe(`failed-login throttle on ${database.name}, counters in ${counters.name}`, () => {
      async function withApp(env: Record<string, string>, run: (t: TestApp) => Promise<void>) {
        const t = await createTestApp({
          databaseUrl: database.url,
          env: { ...THROTTLE, ...counters.env(), ...env },
        });
        try {
          await run(t);
        } finally {
          await t.close();
        }
      }

      test('after 5 wrong passwords the account+IP pair gets 429 with Retry-After, even for the right password, without a hash; another IP still logs in', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'alice');
          assert.deepEqual(await statuses(t, '203.0.113.1', 'alice', WRONG, 5), [401, 401, 401, 401, 401]);
          const hashesBefore = t.gatehouse.hasher.verifications;
          assertThrottled(await attempt(t, '203.0.113.1', 'alice', PASSWORD), 60);
          assertThrottled(await attempt(t, '203.0.113.1', 'alice', WRONG), 60);
          assert.equal(
            t.gatehouse.hasher.verifications,
            hashesBefore,
            'a refused attempt checks no password',
          );
          assert.equal(
            (await attempt(t, '203.0.113.2', 'alice', PASSWORD)).statusCode,
            200,
            'victim elsewhere',
          );

          assert.equal((await events(t, 'login.failed')).length, 5, 'refusals are not failures');
          const blocked = await events(t, 'login.blocked');
          assert.equal(blocked.length, 1, 'one event per block, not per refusal');
          assert.equal(blocked[0]?.ip, '203.0.113.1');
          assert.equal(blocked[0]?.details?.scope, 'pair');
          assert.equal(blocked[0]?.details?.until, new Date(t.clock.now() + MINUTE).toISOString());
        });
      });

      test('a success resets the pair, and failures older than 15 minutes no longer count', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'alice');
          await statuses(t, '203.0.113.1', 'alice', WRONG, 4);
          assert.equal((await attempt(t, '203.0.113.1', 'alice', PASSWORD)).statusCode, 200);
          assert.deepEqual(await statuses(t, '203.0.113.1', 'alice', WRONG, 5), [401, 401, 401, 401, 401]);
          assertThrottled(await attempt(t, '203.0.113.1', 'alice', WRONG));

          await statuses(t, '203.0.113.3', 'alice', WRONG, 4);
          t.clock.advance(15 * MINUTE);
          assert.deepEqual(await statuses(t, '203.0.113.3', 'alice', WRONG, 4), [401, 401, 401, 401]);
          assert.equal((await attempt(t, '203.0.113.3', 'alice', PASSWORD)).statusCode, 200);
        });
      });

      test('each failure after a block blocks again for twice as long, up to 15 minutes; a success after it unblocks and starts over', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'alice');
          const ip = '203.0.113.1';
          await statuses(t, ip, 'alice', WRONG, 5);
          assertThrottled(await attempt(t, ip, 'alice', WRONG), 60);
          let blockedSeconds = 60;
          for (const seconds of [120, 240, 480, 900, 900]) {
            t.clock.advance(blockedSeconds * 1000);
            assert.equal(
              (await attempt(t, ip, 'alice', WRONG)).statusCode,
              401,
              'one attempt after the block',
            );
            assertThrottled(await attempt(t, ip, 'alice', PASSWORD), seconds);
            blockedSeconds = seconds;
          }
          assert.equal((await events(t, 'login.blocked')).length, 6);
          t.clock.advance(blockedSeconds * 1000);
          assert.equal((await attempt(t, ip, 'alice', PASSWORD)).statusCode, 200);
          const unblocked = await events(t, 'login.unblocked');
          assert.deepEqual(
            unblocked.map((e) => [e.ip, e.details?.scope]),
            [[ip, 'pair']],
          );
          // Back to the first step: five more failures, then a one-minute block.
          assert.deepEqual(await statuses(t, ip, 'alice', WRONG, 5), [401, 401, 401, 401, 401]);
          assertThrottled(await attempt(t, ip, 'alice', PASSWORD), 60);
        });
      });

      test('a blocked pair left alone for 15 minutes after its block is forgotten', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'alice');
          await statuses(t, '203.0.113.1', 'alice', WRONG, 5);
          t.clock.advance(MINUTE + 15 * MINUTE);
          assert.deepEqual(await statuses(t, '203.0.113.1', 'alice', WRONG, 4), [401, 401, 401, 401]);
          assert.equal((await attempt(t, '203.0.113.1', 'alice', PASSWORD)).statusCode, 200);
          assert.equal((await events(t, 'login.unblocked')).length, 0, 'the block had ended by itself');
        });
      });

      test('unknown usernames are throttled exactly like accounts, so answers do not reveal which exist', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'alice');
          const run = async (username: string, ip: string) => {
            const seen: unknown[] = [];
            const record = (r: LightMyRequestResponse) =>
              seen.push([r.statusCode, r.headers['retry-after'], r.headers['www-authenticate'], r.body]);
            for (let i = 0; i < 6; i++) record(await attempt(t, ip, username, WRONG));
            t.clock.advance(MINUTE);
            record(await attempt(t, ip, username, WRONG));
            record(await attempt(t, ip, username, WRONG));
            return seen;
          };
          const known = await run('alice', '203.0.113.1');
          const unknown = await run('mallory', '203.0.113.2');
          assert.deepEqual(unknown, known);
          assert.equal((known[5] as number[])[0], 429);
          // Two blocks each, at the same times; the order of events at one instant is not defined.
          const blocked = await events(t, 'login.blocked');
          assert.deepEqual(blocked.map((e) => [e.ip, e.details?.scope, e.userId === null]).sort(), [
            ['203.0.113.1', 'pair', false],
            ['203.0.113.1', 'pair', false],
            ['203.0.113.2', 'pair', true],
            ['203.0.113.2', 'pair', true],
          ]);
          // An unknown login counts under its normalised form, as a known one under its account.
          await statuses(t, '203.0.113.3', 'Mallory', WRONG, 3);
          await statuses(t, '203.0.113.3', ' mallory', WRONG, 2);
          assertThrottled(await attempt(t, '203.0.113.3', 'MALLORY', WRONG));
          await statuses(t, '203.0.113.4', 'alice', WRONG, 3);
          await statuses(t, '203.0.113.4', ' Alice', WRONG, 2);
          assertThrottled(await attempt(t, '203.0.113.4', 'ALICE', PASSWORD));
        });
      });

      test('a username and its email count as two logins per IP, exactly like an unknown pair, so a block does not link them; the account counter still adds both', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'lina');
          const probe = async (username: string, email: string, ip: string) => {
            const seen = await statuses(t, ip, username, WRONG, 5);
            const other = await attempt(t, ip, email, WRONG);
            const again = await attempt(t, ip, username, WRONG);
            return [...seen, other.statusCode, again.statusCode];
          };
          const known = await probe('lina', 'lina@example.com', '203.0.113.1');
          const unknown = await probe('nolina', 'nolina@example.com', '203.0.113.2');
          assert.deepEqual(known, [401, 401, 401, 401, 401, 401, 429]);
          assert.deepEqual(unknown, known);
          // The email has its own five per IP; blocked, it says nothing the username did not.
          assert.deepEqual(
            await statuses(t, '203.0.113.1', 'LINA@example.com', WRONG, 4),
            [401, 401, 401, 401],
          );
          assertThrottled(await attempt(t, '203.0.113.1', 'lina@example.com', PASSWORD));

          // Across IPs both names add up on the account: 10 + 10 failures slow it (the higher threshold).
          const ips = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'];
          t.clock.advance(16 * MINUTE);
          for (const ip of ips) {
            await statuses(t, ip, 'lina', WRONG, 4);
            await statuses(t, ip, 'lina@example.com', WRONG, 1);
          }
          const slowed = (await events(t, 'login.blocked')).filter((e) => e.details?.scope === 'account');
          assert.deepEqual(
            slowed.map((e) => e.details?.reason),
            ['failures_from_all_ips'],
          );
        });
      });

      test('/token, /login and HTTP Basic count into one pair and all answer 429 with Retry-After', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'alice');
          const ip = '203.0.113.1';
          assert.equal((await attempt(t, ip, 'alice', WRONG, 'token')).statusCode, 401);
          assert.equal((await attempt(t, ip, 'alice', WRONG, 'token')).statusCode, 401);
          assert.equal((await attempt(t, ip, 'alice', WRONG, 'login')).statusCode, 401);
          assert.equal((await attempt(t, ip, 'alice', WRONG, 'login')).statusCode, 401);
          assert.equal((await attempt(t, ip, 'alice', WRONG, 'basic')).statusCode, 401);
          for (const route of ['token', 'login', 'basic'] as const) {
            assertThrottled(await attempt(t, ip, 'alice', PASSWORD, route), 60);
          }
          assert.equal((await events(t, 'login.failed')).length, 5, 'Basic failures are audited too');
          t.clock.advance(MINUTE);
          assert.equal((await attempt(t, ip, 'alice', PASSWORD, 'basic')).statusCode, 200);
          assert.equal((await events(t, 'login.unblocked')).length, 1);
          // Basic on its own: five failures block it.
          for (let i = 0; i < 5; i++) await attempt(t, '203.0.113.2', 'alice', WRONG, 'basic');
          assertThrottled(await attempt(t, '203.0.113.2', 'alice', PASSWORD, 'basic'), 60);
        });
      });

      test('after 20 failures from many IPs the account is slowed, never locked: a clean IP logs in, failed IPs share one attempt a minute, and after the window all is normal', async () => {
        await withApp({}, async (t) => {
          await registerUser(t.app, 'alice');
          const ips = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'];
          for (const ip of ips)
            assert.deepEqual(await statuses(t, ip, 'alice', WRONG, 4), [401, 401, 401, 401]);
          const slowed = (await events(t, 'login.blocked')).filter((e) => e.details?.scope === 'account');
          assert.equal(slowed.length, 1);
          assert.equal(slowed[0]?.details?.reason, 'failures_from_all_ips');

          assert.equal(
            (await attempt(t, ips[0] ?? '', 'alice', WRONG)).statusCode,
            401,
            'the slot of this minute',
          );
          assertThrottled(await attempt(t, ips[1] ?? '', 'alice', WRONG));
          assertThrottled(await attempt(t, ips[2] ?? '', 'alice', PASSWORD));
          const hashes = t.gatehouse.hasher.verifications;
          assertThrottled(await attempt(t, ips[3] ?? '', 'alice', PASSWORD));
          assert.equal(t.gatehouse.hasher.verifications, hashes, 'a slowed attempt checks no password');
          assert.equal((await attempt(t, '192.0.2.50', 'alice', PASSWORD)).statusCode, 200, 'a clean IP');

          t.clock.advance(MINUTE);
          assert.equal((await attempt(t, ips[2] ?? '', 'alice', PASSWORD)).statusCode, 200, 'next minute');
          assertThrottled(await attempt(t, ips[3] ?? '', 'alice', PASSWORD));

          t.clock.advance(15 * MINUTE);
          assert.equal((await attempt(t, ips[3] ?? '', 'alice', PASSWORD)).statusCode, 200);
          assert.equal((await attempt(t, ips[4] ?? '', 'alice', PASSWORD)).statusCode, 200);
          assert.equal(
            (await events(t, 'login.blocked')).filter((e) => e.details?.scope === 'account').length,
            1,
            'one event per slow-down',
          );
        });
      });

      test('never more than 100 failures in a row: the 101st attempt is refused, right password or not, until a cool-down; each failure after it re-arms it', async () => {
        await withApp({ GATEHOUSE_LOGIN_ACCOUNT_MAX_FAILURES: 'off' }, async (t) => {
          await registerUser(t.app, 'alice');
          for (let i = 0; i < 25; i++) {
            assert.deepEqual(
              await statuses(t, `198.51.100.${i + 1}`, 'alice', WRONG, 4),
              [401, 401, 401, 401],
            );
          }
          const capped = (await events(t, 'login.blocked')).filter((e) => e.details?.scope === 'account');
          assert.deepEqual(
            capped.map((e) => [e.details?.reason, e.details?.failures]),
            [['consecutive_failures', 100]],
          );
          const hashes = t.gatehouse.hasher.verifications;
          assertThrottled(await attempt(t, '192.0.2.50', 'alice', PASSWORD), 900);
          assertThrottled(await attempt(t, '192.0.2.51', 'alice', PASSWORD, 'login'), 900);
          assert.equal(t.gatehouse.hasher.verifications, hashes);

          t.clock.advance(15 * MINUTE);
          assert.equal((await attempt(t, '192.0.2.50', 'alice', WRONG)).statusCode, 401, 'the 101st failure');
          assertThrottled(await attempt(t, '192.0.2.52', 'alice', PASSWORD), 900);
          t.clock.advance(15 * MINUTE);
          assert.equal((await attempt(t, '192.0.2.52', 'alice', PASSWORD)).statusCode, 200);
          const unblocked = await events(t, 'login.unblocked');
          assert.deepEqual(
            unblocked.map((e) => e.details?.scope),
            ['account'],
          );
          // The success ended the run: failures are counted from zero again.
          assert.deepEqual(await statuses(t, '192.0.2.53', 'alice', WRONG, 4), [401, 401, 401, 401]);
          assert.equal((await attempt(t, '192.0.2.54', 'alice', PASSWORD)).statusCode, 200);
        });
      });

      test('GATEHOUSE_LOGIN_MAX_FAILURES=off turns the throttle off', async () => {
        await withApp({ GATEHOUSE_LOGIN_MAX_FAILURES: 'off' }, async (t) => {
          await registerUser(t.app, 'alice');
          assert.ok((await statuses(t, '203.0.113.1', 'alice', WRONG, 25)).every((s) => s === 401));
          assert.equal((await attempt(t, '203.0.113.1', 'alice', PASSWORD)).statusCode, 200);
          assert.equal((await events(t, 'login.blocked')).length, 0);
        });
      });
    });
  }
}

describe('two instances sharing Redis', { skip: TEST_REDIS_URL === undefined }, () => {
  test('count one pair together: failures on either block it on both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-throttle-'));
    const env = {
      ...THROTTLE,
      GATEHOUSE_REDIS_URL: TEST_REDIS_URL ?? '',
      GATEHOUSE_REDIS_PREFIX: uniqueRedisPrefix(),
    };
    // One database too, so the account has one id on both.
    const databaseUrl = TEST_DATABASE_URL ?? `sqlite:${join(dir, 'shared.db')}`;
    const a = await createTestApp({ databaseUrl, env });
    const b = await createTestApp({
      databaseUrl,
      env,
      clock: a.clock,
      ...(TEST_DATABASE_URL ? { sharePgSchemaOf: a } : {}),
    });
    try {
      await registerUser(a.app, 'alice');
      assert.deepEqual(await statuses(a, '203.0.113.1', 'alice', WRONG, 3), [401, 401, 401]);
      assert.deepEqual(await statuses(b, '203.0.113.1', 'alice', WRONG, 2), [401, 401]);
      // One clock for both: the block that began on B reads the same on A.
      assertThrottled(await attempt(a, '203.0.113.1', 'alice', PASSWORD), 60);
      assertThrottled(await attempt(b, '203.0.113.1', 'alice', PASSWORD), 60);
      assert.equal((await attempt(b, '203.0.113.2', 'alice', PASSWORD)).statusCode, 200);
    } finally {
      await b.close();
      await a.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('failed-login throttle settings', () => {
  test('default to 5 per pair and 20 per account; off or a whole number up to 100; anything else is refused', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.loginMaxFailures, 5);
    assert.equal(defaults.loginAccountMaxFailures, 20);
    const set = loadConfig({
      GATEHOUSE_LOGIN_MAX_FAILURES: '10',
      GATEHOUSE_LOGIN_ACCOUNT_MAX_FAILURES: 'off',
    });
    assert.equal(set.loginMaxFailures, 10);
    assert.equal(set.loginAccountMaxFailures, null);
    assert.equal(loadConfig({ GATEHOUSE_LOGIN_MAX_FAILURES: 'off' }).loginMaxFailures, null);
    for (const value of ['0', '101', 'five', '-1', '5.5', 'OFF']) {
      assert.throws(
        () => loadConfig({ GATEHOUSE_LOGIN_MAX_FAILURES: value }),
        /GATEHOUSE_LOGIN_MAX_FAILURES must be a whole number from 1 to 100, or off/,
      );
      assert.throws(
        () => loadConfig({ GATEHOUSE_LOGIN_ACCOUNT_MAX_FAILURES: value }),
        /GATEHOUSE_LOGIN_ACCOUNT_MAX_FAILURES/,
      );
    }
  });
});
