/**
 * Per-client limits count a client, not a spelling: every way of writing an address, an IPv6
 * client's whole /64, and a forwarded value that is not an address (the proxy's own) share one
 * budget, in the per-route limits, the failed-login throttle and the mail limits alike.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalAddress, clientAddressKey } from '../../src/auth/client-address.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

const PROXY = '10.0.0.1';

async function withApp(
  env: Record<string, string>,
  databaseUrl: string | undefined,
  run: (t: TestApp) => Promise<void>,
) {
  const t = await createTestApp({ env: { GATEHOUSE_TRUST_PROXY: PROXY, ...env }, databaseUrl });
  try {
    await run(t);
  } finally {
    await t.close();
  }
}

const tokenFrom = (
  t: TestApp,
  client: string | undefined,
  password = 'wrong password',
  remoteAddress = PROXY,
) =>
  t.app.inject({
    method: 'POST',
    url: '/token',
    remoteAddress,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(client === undefined ? {} : { 'x-forwarded-for': client }),
    },
    payload: new URLSearchParams({ username: 'alice', password }).toString(),
  });

describe('client addresses', () => {
  test('an address has one canonical spelling; IPv4-mapped IPv6 is IPv4; garbage is none', () => {
    assert.equal(canonicalAddress('203.0.113.9'), '203.0.113.9');
    assert.equal(canonicalAddress('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(canonicalAddress('::FFFF:cb00:7109'), '203.0.113.9');
    assert.equal(canonicalAddress('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(canonicalAddress('2001:db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    for (const notAnAddress of [
      'garbage',
      '',
      '127.1',
      '0x7f.0.0.1',
      '203.0.113.9, 10.0.0.1',
      undefined,
      null,
    ]) {
      assert.equal(canonicalAddress(notAnAddress), undefined, String(notAnAddress));
    }
  });

  test('IPv6 clients are counted by network; the prefix is a setting', () => {
    assert.equal(clientAddressKey('2001:db8::1', 64), '2001:db8::/64');
    assert.equal(clientAddressKey('2001:db8::ffff:ffff:ffff:ffff', 64), '2001:db8::/64');
    assert.equal(clientAddressKey('2001:db8:0:1::1', 64), '2001:db8:0:1::/64');
    assert.equal(clientAddressKey('2001:db8:0:ff::1', 56), '2001:db8::/56');
    assert.equal(clientAddressKey('2001:db8::1', 128), '2001:db8::1');
    assert.equal(clientAddressKey('::ffff:203.0.113.9', 64), '203.0.113.9');
    assert.equal(loadConfig({}).rateLimitIpv6Prefix, 64);
    assert.equal(loadConfig({ GATEHOUSE_RATE_LIMIT_IPV6_PREFIX: '56' }).rateLimitIpv6Prefix, 56);
    for (const bad of ['0', '129', '64.5', 'wide']) {
      assert.throws(
        () => loadConfig({ GATEHOUSE_RATE_LIMIT_IPV6_PREFIX: bad }),
        /GATEHOUSE_RATE_LIMIT_IPV6_PREFIX/,
      );
    }
  });

  for (const database of DATABASES) {
    describe(database.name, () => {
      test('behind a trusted proxy, another spelling of a limited address gets no fresh budget', async () => {
        await withApp({ GATEHOUSE_RATE_LIMIT_TOKEN: '2/1m' }, database.url, async (t) => {
          assert.equal((await tokenFrom(t, '203.0.113.9')).statusCode, 401);
          assert.equal((await tokenFrom(t, '203.0.113.9')).statusCode, 401);
          for (const spelling of ['203.0.113.9', '::ffff:203.0.113.9', '::FFFF:CB00:7109']) {
            assert.equal((await tokenFrom(t, spelling)).statusCode, 429, spelling);
          }
          assert.equal((await tokenFrom(t, '203.0.113.10')).statusCode, 401, 'another client');
        });
      });

      test('an IPv6 client is its /64: other addresses and spellings in it share the budget', async () => {
        await withApp({ GATEHOUSE_RATE_LIMIT_TOKEN: '2/1m' }, database.url, async (t) => {
          assert.equal((await tokenFrom(t, '2001:db8::1')).statusCode, 401);
          assert.equal((await tokenFrom(t, '2001:db8::2')).statusCode, 401);
          for (const sameNetwork of ['2001:db8::1', '2001:DB8:0:0::1', '2001:db8::dead:beef:1:2']) {
            assert.equal((await tokenFrom(t, sameNetwork)).statusCode, 429, sameNetwork);
          }
          assert.equal((await tokenFrom(t, '2001:db8:0:1::1')).statusCode, 401, 'the next /64');
        });
      });

      test('a forwarded value that is not an address counts as the proxy itself', async () => {
        await withApp({ GATEHOUSE_RATE_LIMIT_TOKEN: '2/1m' }, database.url, async (t) => {
          assert.equal((await tokenFrom(t, 'garbage')).statusCode, 401);
          assert.equal((await tokenFrom(t, 'more garbage')).statusCode, 401);
          assert.equal((await tokenFrom(t, 'unknown')).statusCode, 429);
          assert.equal((await tokenFrom(t, undefined)).statusCode, 429, 'the proxy asking for itself');
          assert.equal((await tokenFrom(t, '203.0.113.9')).statusCode, 401, 'a real client behind it');
        });
      });

      test('the failed-login throttle counts a client by its canonical address and /64', async () => {
        await withApp({ GATEHOUSE_LOGIN_MAX_FAILURES: '2' }, database.url, async (t) => {
          await registerUser(t.app, 'alice');
          assert.equal((await tokenFrom(t, '2001:db8::1')).statusCode, 401);
          assert.equal((await tokenFrom(t, '2001:db8::2')).statusCode, 401);
          const blocked = await tokenFrom(t, '2001:DB8::3', PASSWORD);
          assert.equal(blocked.statusCode, 429, 'the right password from the same /64 is blocked');
          assert.equal((await tokenFrom(t, '2001:db8:1::1', PASSWORD)).statusCode, 200, 'another network');

          assert.equal((await tokenFrom(t, '198.51.100.7')).statusCode, 401);
          assert.equal((await tokenFrom(t, '::ffff:198.51.100.7')).statusCode, 401);
          assert.equal((await tokenFrom(t, '198.51.100.7', PASSWORD)).statusCode, 429);
        });
      });

      test('the per-IP mail limit and the recorded session address use the canonical address', async () => {
        await withApp({ GATEHOUSE_RATE_LIMIT_MAIL: '1/1h' }, database.url, async (t) => {
          await registerUser(t.app, 'alice');
          const forgot = (client: string) =>
            t.app.inject({
              method: 'POST',
              url: '/forgot-password',
              remoteAddress: PROXY,
              headers: { 'x-forwarded-for': client },
              payload: { email: 'nobody@example.com' },
            });
          assert.equal((await forgot('::ffff:198.51.100.7')).statusCode, 202);
          assert.equal((await forgot('198.51.100.7')).statusCode, 429);

          assert.equal((await tokenFrom(t, '::ffff:203.0.113.9', PASSWORD)).statusCode, 200);
          const session = await t.gatehouse.store.db
            .selectFrom('sessions')
            .select('ip')
            .orderBy('created_at', 'desc')
            .executeTakeFirstOrThrow();
          assert.equal(session.ip, '203.0.113.9');
        });
      });
    });
  }
});
