import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { listAuditEvents } from '../../src/store/audit.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';

interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

function tokenRequest(
  app: FastifyInstance,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(fields).toString(),
  });
}

async function passwordLogin(
  app: FastifyInstance,
  username: string,
  extra: Record<string, string> = {},
): Promise<Tokens> {
  const response = await tokenRequest(
    app,
    { username, password: PASSWORD, ...extra },
    { 'user-agent': 'test-agent/1.0' },
  );
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}

const refresh = (app: FastifyInstance, refreshToken: string, scope?: string) =>
  tokenRequest(app, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    ...(scope ? { scope } : {}),
  });

const me = (app: FastifyInstance, accessToken: string) =>
  app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${accessToken}` } });

const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });

for (const database of DATABASES) {
  describe(`sessions and refresh tokens on ${database.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      await registerUser(t.app, 'alice');
      await registerUser(t.app, 'bob');
    });
    after(() => t.close());

    test('the password grant returns an opaque refresh token, stored only as a hash, and a sid claim', async () => {
      const tokens = await passwordLogin(t.app, 'alice');
      assert.match(tokens.refresh_token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
      const sid = decodeJwt(tokens.access_token).sid;
      assert.equal(typeof sid, 'string');
      const rows = await t.gatehouse.store.db.selectFrom('refresh_tokens').selectAll().execute();
      const secret = tokens.refresh_token.split('.')[1] ?? '';
      assert.ok(rows.every((row) => !row.secret_hash.includes(secret) && row.secret_hash !== secret));
      const session = await t.gatehouse.store.db
        .selectFrom('sessions')
        .selectAll()
        .where('id', '=', String(sid))
        .executeTakeFirstOrThrow();
      assert.equal(session.user_agent, 'test-agent/1.0');
      assert.equal(session.ip, '127.0.0.1');
    });

    test('a refresh rotates: new access and refresh tokens in the same session, the old refresh token spent', async () => {
      const first = await passwordLogin(t.app, 'alice');
      const response = await refresh(t.app, first.refresh_token);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['cache-control'], 'no-store');
      const second: Tokens = response.json();
      assert.notEqual(second.refresh_token, first.refresh_token);
      assert.equal(decodeJwt(second.access_token).sid, decodeJwt(first.access_token).sid);
      assert.equal((await me(t.app, second.access_token)).statusCode, 200);
      assert.equal((await refresh(t.app, second.refresh_token)).statusCode, 200);
    });

    test('a refresh may narrow the scope but not widen it', async () => {
      const first = await passwordLogin(t.app, 'alice', { scope: 'profile:read' });
      const widened = await refresh(t.app, first.refresh_token, 'profile:read profile:write');
      assert.equal(widened.statusCode, 400);
      assert.equal(widened.json().error, 'invalid_scope');
      const all = await passwordLogin(t.app, 'alice');
      const narrowed = await refresh(t.app, all.refresh_token, 'profile:read');
      assert.equal(narrowed.statusCode, 200);
      assert.equal(narrowed.json().scope, 'profile:read');
      assert.equal(decodeJwt(narrowed.json().access_token).scope, 'profile:read');
      const again = await refresh(t.app, narrowed.json().refresh_token);
      assert.equal(
        again.json().scope,
        'profile:read profile:write',
        'the refresh token keeps the original grant',
      );
    });

    test('invalid, forged and foreign refresh tokens answer 400 invalid_grant', async () => {
      const real = await passwordLogin(t.app, 'alice');
      const [id] = real.refresh_token.split('.');
      for (const value of [
        '',
        'garbage',
        `${id}.${'A'.repeat(43)}`,
        `${'B'.repeat(22)}.${'C'.repeat(43)}`,
        real.access_token,
      ]) {
        const response = await refresh(t.app, value);
        assert.equal(response.statusCode, 400, value.slice(0, 30));
        assert.equal(response.json().error, 'invalid_grant');
        assert.equal(response.json().detail, 'Invalid refresh token');
        assert.equal(typeof response.json().error_description, 'string');
      }
      assert.equal(
        (await refresh(t.app, real.refresh_token)).statusCode,
        200,
        'a forged secret does not spend the real token',
      );
    });

    test('a missing refresh_token answers 422 on body.refresh_token', async () => {
      const response = await tokenRequest(t.app, { grant_type: 'refresh_token' });
      assert.equal(response.statusCode, 422);
      assert.deepEqual(response.json().detail[0].loc, ['body', 'refresh_token']);
    });

    test('reusing a spent refresh token after the grace window revokes the whole session and is audited', async () => {
      const first = await passwordLogin(t.app, 'alice');
      const second: Tokens = (await refresh(t.app, first.refresh_token)).json();
      t.clock.advance(11_000);
      const reuse = await refresh(t.app, first.refresh_token);
      assert.equal(reuse.statusCode, 400);
      assert.equal(reuse.json().error, 'invalid_grant');
      assert.equal(
        (await me(t.app, second.access_token)).statusCode,
        401,
        'access tokens of the session stop at once',
      );
      assert.equal((await me(t.app, first.access_token)).statusCode, 401);
      assert.equal((await refresh(t.app, second.refresh_token)).statusCode, 400, 'the successor is dead too');
      const sid = String(decodeJwt(first.access_token).sid);
      const events = await listAuditEvents(t.gatehouse.store.db, { event: 'refresh_token.reused' });
      assert.ok(events.some((e) => e.sessionId === sid));
    });

    test('two refreshes racing within the grace window both succeed: the second gets a sibling', async () => {
      const first = await passwordLogin(t.app, 'alice');
      const [a, b] = await Promise.all([
        refresh(t.app, first.refresh_token),
        refresh(t.app, first.refresh_token),
      ]);
      assert.equal(a?.statusCode, 200);
      assert.equal(b?.statusCode, 200);
      const ta: Tokens = a?.json();
      const tb: Tokens = b?.json();
      assert.notEqual(ta.refresh_token, tb.refresh_token);
      assert.equal(decodeJwt(ta.access_token).sid, decodeJwt(tb.access_token).sid);
      assert.equal((await refresh(t.app, ta.refresh_token)).statusCode, 200);
      assert.equal((await refresh(t.app, tb.refresh_token)).statusCode, 200);
      assert.equal((await me(t.app, ta.access_token)).statusCode, 200, 'the session stays alive');
    });

    test('refresh of a disabled user fails and revokes the session', async () => {
      const carol = await registerUser(t.app, 'carol');
      const tokens = await passwordLogin(t.app, 'carol');
      await t.gatehouse.accounts.setDisabled(carol.id, true);
      assert.equal((await refresh(t.app, tokens.refresh_token)).statusCode, 400);
      await t.gatehouse.accounts.setDisabled(carol.id, false);
      assert.equal(
        (await refresh(t.app, tokens.refresh_token)).statusCode,
        400,
        're-enabling does not revive the session',
      );
      assert.equal((await me(t.app, tokens.access_token)).statusCode, 401);
    });

    test('disabling a user revokes all their sessions; a disabled user still gets 400 Inactive user on fresh tokens', async () => {
      const dave = await registerUser(t.app, 'dave');
      const one = await passwordLogin(t.app, 'dave');
      await t.gatehouse.accounts.setDisabled(dave.id, true);
      const response = await me(t.app, one.access_token);
      assert.equal(response.statusCode, 401, 'the session was revoked');
      const events = await listAuditEvents(t.gatehouse.store.db, { userId: dave.id, event: 'user.disabled' });
      assert.equal(events.length, 1);
    });

    test('a deleted user cannot refresh, and their access token answers 401', async () => {
      const erin = await registerUser(t.app, 'erin');
      const tokens = await passwordLogin(t.app, 'erin');
      await t.gatehouse.store.db.deleteFrom('users').where('id', '=', erin.id).execute();
      assert.equal((await refresh(t.app, tokens.refresh_token)).statusCode, 400);
      assert.equal((await me(t.app, tokens.access_token)).statusCode, 401);
    });

    test('POST /logout revokes the session: its access token fails on the very next request', async () => {
      const tokens = await passwordLogin(t.app, 'alice');
      assert.equal((await me(t.app, tokens.access_token)).statusCode, 200, 'verified and cached');
      const logout = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: bearer(tokens.access_token),
      });
      assert.equal(logout.statusCode, 204);
      const after = await me(t.app, tokens.access_token);
      assert.equal(after.statusCode, 401);
      assert.equal(after.headers['www-authenticate'], 'Bearer error="invalid_token"');
      assert.equal((await refresh(t.app, tokens.refresh_token)).statusCode, 400);
    });

    test("GET /sessions lists the caller's live sessions and marks the current one", async () => {
      const bob1 = await passwordLogin(t.app, 'bob');
      const bob2 = await passwordLogin(t.app, 'bob');
      const response = await t.app.inject({
        method: 'GET',
        url: '/sessions',
        headers: bearer(bob2.access_token),
      });
      assert.equal(response.statusCode, 200);
      const { items } = response.json();
      const ids = items.map((s: { id: string }) => s.id);
      assert.ok(ids.includes(decodeJwt(bob1.access_token).sid));
      const current = items.filter((s: { current: boolean }) => s.current);
      assert.equal(current.length, 1);
      assert.equal(current[0].id, decodeJwt(bob2.access_token).sid);
      assert.deepEqual(Object.keys(items[0]).sort(), [
        'created_at',
        'current',
        'id',
        'ip',
        'last_used_at',
        'user_agent',
      ]);
    });

    test("DELETE /sessions/{id} revokes one of your sessions, and is 404 for another user's", async () => {
      const aliceTokens = await passwordLogin(t.app, 'alice');
      const bob1 = await passwordLogin(t.app, 'bob');
      const bob2 = await passwordLogin(t.app, 'bob');
      const bob1Sid = String(decodeJwt(bob1.access_token).sid);
      const foreign = await t.app.inject({
        method: 'DELETE',
        url: `/sessions/${bob1Sid}`,
        headers: bearer(aliceTokens.access_token),
      });
      assert.equal(foreign.statusCode, 404);
      assert.equal((await me(t.app, bob1.access_token)).statusCode, 200);
      const own = await t.app.inject({
        method: 'DELETE',
        url: `/sessions/${bob1Sid}`,
        headers: bearer(bob2.access_token),
      });
      assert.equal(own.statusCode, 204);
      assert.equal((await me(t.app, bob1.access_token)).statusCode, 401);
      assert.equal((await me(t.app, bob2.access_token)).statusCode, 200);
    });

    test('DELETE /sessions logs out everywhere', async () => {
      const sessions = [await passwordLogin(t.app, 'bob'), await passwordLogin(t.app, 'bob')];
      const response = await t.app.inject({
        method: 'DELETE',
        url: '/sessions',
        headers: bearer(sessions[0]?.access_token ?? ''),
      });
      assert.equal(response.statusCode, 204);
      for (const tokens of sessions) {
        assert.equal((await me(t.app, tokens.access_token)).statusCode, 401);
        assert.equal((await refresh(t.app, tokens.refresh_token)).statusCode, 400);
      }
    });

    test('changing the password keeps this session, revokes the others, and applies the policy', async () => {
      await registerUser(t.app, 'frank');
      const other = await passwordLogin(t.app, 'frank');
      const current = await passwordLogin(t.app, 'frank');
      const change = (body: Record<string, string>) =>
        t.app.inject({
          method: 'POST',
          url: '/users/me/password',
          headers: bearer(current.access_token),
          payload: body,
        });
      const wrong = await change({
        current_password: 'not it at all',
        new_password: 'a brand new passphrase',
      });
      assert.equal(wrong.statusCode, 400);
      assert.deepEqual(wrong.json(), { detail: 'Incorrect password' });
      const weak = await change({ current_password: PASSWORD, new_password: 'password' });
      assert.equal(weak.statusCode, 422);
      assert.deepEqual(weak.json().detail[0].loc, ['body', 'new_password']);
      const ok = await change({ current_password: PASSWORD, new_password: 'a brand new passphrase' });
      assert.equal(ok.statusCode, 204);
      assert.equal((await me(t.app, current.access_token)).statusCode, 200);
      assert.equal((await me(t.app, other.access_token)).statusCode, 401);
      assert.equal((await tokenRequest(t.app, { username: 'frank', password: PASSWORD })).statusCode, 401);
      assert.equal(
        (await tokenRequest(t.app, { username: 'frank', password: 'a brand new passphrase' })).statusCode,
        200,
      );
    });

    test('a session ends after the idle timeout and after the absolute lifetime', async () => {
      const idle = await passwordLogin(t.app, 'alice');
      t.clock.advance(7 * 86_400_000 + 1000);
      assert.equal((await refresh(t.app, idle.refresh_token)).statusCode, 400, 'idle for over 7 days');

      let tokens = await passwordLogin(t.app, 'alice');
      for (let day = 0; day < 30; day += 6) {
        t.clock.advance(6 * 86_400_000);
        const response = await refresh(t.app, tokens.refresh_token);
        if (day + 6 < 30) {
          assert.equal(response.statusCode, 200, `day ${day + 6}: used within the idle window`);
          tokens = response.json();
        } else {
          assert.equal(response.statusCode, 400, 'past 30 days in all');
        }
      }
    });

    test('login successes and failures are audited with a reason and never a secret', async () => {
      await tokenRequest(t.app, { username: 'alice', password: 'wrong wrong wrong' });
      await tokenRequest(t.app, { username: 'nobody-here', password: 'wrong wrong wrong' });
      const failures = await listAuditEvents(t.gatehouse.store.db, { event: 'login.failed' });
      const reasons = failures.map((e) => e.details?.reason);
      assert.ok(reasons.includes('wrong_password'));
      assert.ok(reasons.includes('unknown_user'));
      const all = JSON.stringify(await listAuditEvents(t.gatehouse.store.db, { limit: 1000 }));
      assert.doesNotMatch(all, new RegExp(PASSWORD));
      assert.doesNotMatch(all, /wrong wrong wrong/);
      assert.ok((await listAuditEvents(t.gatehouse.store.db, { event: 'login.succeeded' })).length > 0);
      assert.ok((await listAuditEvents(t.gatehouse.store.db, { event: 'logout' })).length > 0);
      assert.ok((await listAuditEvents(t.gatehouse.store.db, { event: 'token.refreshed' })).length > 0);
      assert.ok((await listAuditEvents(t.gatehouse.store.db, { event: 'password.changed' })).length > 0);
    });
  });
}

describe('refresh races with no grace window', () => {
  test('two truly concurrent refreshes over sockets: one wins, the other is treated as reuse and revokes the session', async () => {
    const t = await createTestApp({
      env: { GATEHOUSE_REFRESH_REUSE_GRACE: '0' },
      databaseUrl: DATABASES.at(-1)?.url,
    });
    try {
      await registerUser(t.app, 'racer');
      const first = await passwordLogin(t.app, 'racer');
      const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      const responses = await Promise.all(
        [0, 1].map(() => fetch(`${address}/token`, { method: 'POST', body })),
      );
      const statuses = responses.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 400]);
      const winner = (await responses.find((r) => r.status === 200)?.json()) as Tokens;
      const loser = (await responses.find((r) => r.status === 400)?.json()) as { error: string };
      assert.equal(loser.error, 'invalid_grant');
      assert.equal((await me(t.app, winner.access_token)).statusCode, 401, 'reuse revoked the session');
    } finally {
      await t.close();
    }
  });
});

describe('revocation survives a restart', () => {
  test('a session revoked before a restart stays refused after it (the set is loaded from the store)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-restart-'));
    const url = `sqlite:${join(dir, 'g.db')}`;
    try {
      const first = await createTestApp({ databaseUrl: url });
      await registerUser(first.app, 'alice');
      const tokens = await passwordLogin(first.app, 'alice');
      await first.app.inject({ method: 'POST', url: '/logout', headers: bearer(tokens.access_token) });
      await first.close();
      const second = await createTestApp({ databaseUrl: url });
      try {
        assert.equal((await me(second.app, tokens.access_token)).statusCode, 401);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
