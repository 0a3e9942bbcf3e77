/**
 * CSRF is a cookie matter. A cookie form post must carry the session's `csrf_token` on every
 * `config.htmlForm` route, the host app's own included, whichever hook its guard runs in. A
 * bearer token or API key needs no CSRF token and no same-origin Origin, and before sign-in a
 * JSON request from another origin is allowed (a browser sends one only after a CORS preflight)
 * while form-encoded ones are refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { createManualClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.ts';
import type { HtmlForm } from '../../src/http/pages/html-form.ts';
import { gatehousePlugin } from '../../src/plugin.ts';
import { browserFormHeaders, form } from '../pages/form-client.ts';
import { DATABASES, FAST_ARGON2, NO_RATE_LIMITS, PASSWORD, registerUser } from '../support/gatehouse.ts';

const FOREIGN = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };

const NOTE_FORM: HtmlForm = {
  render: () => '<!doctype html><p>note form</p>',
  successLocation: () => '/notes',
};

for (const database of DATABASES) {
  describe(`CSRF scope on ${database.name}`, () => {
    let app: FastifyInstance;
    let gatehouse: Gatehouse;
    let pgSchema: string | undefined;
    const notes: string[] = [];

    before(async () => {
      const config = loadConfig({
        GATEHOUSE_DATABASE_URL: database.url ?? 'sqlite::memory:',
        GATEHOUSE_ISSUER: 'http://gatehouse.test',
        GATEHOUSE_LOG_LEVEL: 'silent',
        ...FAST_ARGON2,
        ...NO_RATE_LIMITS,
      });
      pgSchema = database.url ? `gh_test_${randomBytes(6).toString('hex')}` : undefined;
      gatehouse = await createGatehouse(config, {
        clock: createManualClock(Date.now()),
        ...(pgSchema ? { pgSchema } : {}),
      });
      app = Fastify();
      await app.register(formbody);
      await app.register(gatehousePlugin, { gatehouse });
      const { guards } = app.gatehouse;
      const write = async (request: { body: unknown }) => {
        notes.push(String((request.body as { text?: unknown }).text));
        return { saved: true };
      };
      app.post(
        '/notes',
        { onRequest: guards.requireUser, config: { gatehouse: { htmlForm: NOTE_FORM } } },
        write,
      );
      app.post(
        '/notes-late',
        { preHandler: guards.requireUser, config: { gatehouse: { htmlForm: NOTE_FORM } } },
        write,
      );
      await app.register(async (child) => {
        child.post(
          '/nested/notes',
          { onRequest: guards.requireUser, config: { gatehouse: { htmlForm: NOTE_FORM } } },
          write,
        );
      });
      await app.ready();
      await registerUser(app, 'alice');
    });
    after(async () => {
      await app?.close();
      if (pgSchema) await sql`drop schema if exists ${sql.id(pgSchema)} cascade`.execute(gatehouse.store.db);
      await gatehouse?.close();
    });

    async function cookieSession(): Promise<{ cookie: string; csrfToken: string }> {
      const response = await app.inject({
        method: 'POST',
        url: '/login',
        payload: { username: 'alice', password: PASSWORD },
      });
      assert.equal(response.statusCode, 200, response.body);
      const header = response.headers['set-cookie'];
      const cookie = String(Array.isArray(header) ? header[0] : header).split(';')[0] ?? '';
      return { cookie, csrfToken: response.json().csrf_token };
    }

    async function bearer(): Promise<string> {
      const response = await app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ username: 'alice', password: PASSWORD }),
      });
      return response.json().access_token;
    }

    test('a cookie form post to a host route with config.htmlForm needs the csrf_token field', async () => {
      const { cookie, csrfToken } = await cookieSession();
      for (const url of ['/notes', '/notes-late', '/nested/notes']) {
        const before = notes.length;
        for (const fields of [
          {} as Record<string, string>,
          { csrf_token: '' },
          { csrf_token: `${csrfToken.slice(0, -2)}AA` },
        ]) {
          const refused = await app.inject({
            method: 'POST',
            url,
            headers: browserFormHeaders({ cookie }),
            payload: form({ text: 'forged', ...fields }),
          });
          assert.equal(refused.statusCode, 403, `${url} ${JSON.stringify(fields)}`);
        }
        assert.equal(notes.length, before, `${url}: nothing written`);
        const accepted = await app.inject({
          method: 'POST',
          url,
          headers: browserFormHeaders({ cookie }),
          payload: form({ text: 'mine', csrf_token: csrfToken }),
        });
        assert.equal(accepted.statusCode, 200, `${url}: ${accepted.body}`);
        assert.equal(notes.length, before + 1);
        const viaHeader = await app.inject({
          method: 'POST',
          url,
          headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
          payload: { text: 'by header' },
        });
        assert.equal(viaHeader.statusCode, 200, `${url}: the header works as before`);
      }
    });

    test('a bearer token or API key needs no CSRF token and no same-origin Origin', async () => {
      const token = await bearer();
      const before = notes.length;
      const note = await app.inject({
        method: 'POST',
        url: '/notes',
        headers: browserFormHeaders({ authorization: `Bearer ${token}`, ...FOREIGN }),
        payload: form({ text: 'from a script' }),
      });
      assert.equal(note.statusCode, 200, note.body);
      assert.equal(notes.length, before + 1);

      const logout = await app.inject({
        method: 'POST',
        url: '/logout',
        headers: { authorization: `Bearer ${token}`, ...FOREIGN },
      });
      assert.equal(logout.statusCode, 204, logout.body);

      const key = await app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: { authorization: `Bearer ${await bearer()}` },
        payload: { name: 'script', scopes: [] },
      });
      assert.equal(key.statusCode, 201, key.body);
      const byKey = await app.inject({
        method: 'POST',
        url: '/logout',
        headers: { 'x-api-key': key.json().key, ...FOREIGN },
      });
      assert.equal(byKey.statusCode, 204, byKey.body);
    });

    test('a cookie is still held to the same origin, even with the right token', async () => {
      const { cookie, csrfToken } = await cookieSession();
      const response = await app.inject({
        method: 'POST',
        url: '/logout',
        headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json', ...FOREIGN },
        payload: {},
      });
      assert.equal(response.statusCode, 403);
    });

    test('before sign-in, JSON from another origin is allowed; a form post from it is refused', async () => {
      const json = await app.inject({
        method: 'POST',
        url: '/register',
        headers: FOREIGN,
        payload: { username: 'spa_user', email: 'spa@example.com', password: PASSWORD },
      });
      assert.equal(json.statusCode, 201, json.body);
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        headers: FOREIGN,
        payload: { username: 'spa_user', password: PASSWORD },
      });
      assert.equal(login.statusCode, 200, login.body);

      const users = async () =>
        Number(
          (
            await gatehouse.store.db
              .selectFrom('users')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const count = await users();
      const formPost = await app.inject({
        method: 'POST',
        url: '/register',
        headers: { ...FOREIGN, 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ username: 'forged', email: 'forged@example.com', password: PASSWORD }),
      });
      assert.equal(formPost.statusCode, 403);
      const formLogin = await app.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FOREIGN, 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ username: 'spa_user', password: PASSWORD }),
      });
      assert.equal(formLogin.statusCode, 403);
      assert.equal(formLogin.headers['set-cookie'], undefined);
      assert.equal(await users(), count, 'nothing created');
    });
  });
}
