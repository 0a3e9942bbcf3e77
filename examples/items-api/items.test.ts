import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildItemsApi } from './app.ts';

const PASSWORD = 'correct horse battery staple';

describe('examples/items-api', () => {
  let app: FastifyInstance;
  const tokens: Record<string, string> = {};

  async function call(method: string, url: string, token?: string, payload?: object) {
    return app.inject({
      method: method as 'GET',
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(payload ? { payload } : {}),
    });
  }

  async function login(username: string, scope?: string): Promise<string> {
    const response = await app.inject({
      method: 'POST',
      url: '/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username, password: PASSWORD, ...(scope ? { scope } : {}) }).toString(),
    });
    assert.equal(response.statusCode, 200, response.body);
    return response.json().access_token;
  }

  before(async () => {
    app = await buildItemsApi({
      gatehouse: {
        databaseUrl: 'sqlite::memory:',
        issuer: 'https://items.example.com',
        argon2MemoryKib: 1024,
        argon2Iterations: 1,
        // Registrations mail a verification link; in a test it goes to a temporary outbox.
        outboxDir: join(tmpdir(), 'gatehouse-items-outbox'),
      },
      itemsDatabase: ':memory:',
    });
    await app.ready();
    const { accounts } = app.gatehouse.services;
    for (const [username, roles] of [
      ['alice', ['user']],
      ['bob', ['user']],
      ['mia', ['user', 'moderator']],
      ['root', ['user', 'admin']],
    ] as const) {
      const registered = await app.inject({
        method: 'POST',
        url: '/register',
        payload: { username, email: `${username}@example.com`, password: PASSWORD },
      });
      assert.equal(registered.statusCode, 201, registered.body);
      await accounts.setRoles(registered.json().id, roles);
      tokens[username] = await login(username);
    }
  });
  after(() => app.close());

  test('the built-in roles carry the items permissions, and the token endpoint grants them', async () => {
    const roles = (await call('GET', '/roles', tokens.root)).json().items as {
      name: string;
      permissions: string[];
    }[];
    const of = (name: string) => roles.find((role) => role.name === name)?.permissions ?? [];
    assert.ok(of('user').includes('items:write') && !of('user').includes('items:read_any'));
    assert.ok(of('moderator').includes('items:read_any') && !of('moderator').includes('items:delete_any'));
    assert.ok(of('admin').includes('items:delete_any'));
    const metadata = (await call('GET', '/.well-known/oauth-authorization-server')).json();
    assert.ok(metadata.scopes_supported.includes('items:read_any'));
  });

  test('owners read and change their items; other users cannot even see them', async () => {
    const created = await call('POST', '/items', tokens.alice, { title: 'milk' });
    assert.equal(created.statusCode, 201);
    const item = created.json();
    const alice = (await call('GET', '/users/me', tokens.alice)).json();
    assert.equal(item.owner_id, alice.id);
    assert.equal(item.done, false);

    const patched = await call('PATCH', `/items/${item.id}`, tokens.alice, { done: true });
    assert.equal(patched.statusCode, 200);
    assert.equal(patched.json().done, true);
    assert.deepEqual(
      (await call('GET', '/items', tokens.alice)).json().items.map((i: { id: string }) => i.id),
      [item.id],
    );

    await call('POST', '/items', tokens.bob, { title: "bob's" });
    const bobSees = (await call('GET', '/items', tokens.bob)).json().items as { title: string }[];
    assert.deepEqual(
      bobSees.map((i) => i.title),
      ["bob's"],
    );
    for (const [method, payload] of [['GET'], ['PATCH', { title: 'mine now' }], ['DELETE']] as const) {
      const response = await call(method, `/items/${item.id}`, tokens.bob, payload);
      assert.equal(response.statusCode, 404, `${method} by another user`);
      assert.deepEqual(response.json(), { detail: 'Item not found' });
    }
    assert.equal((await call('GET', `/items/${item.id}`, tokens.alice)).json().title, 'milk');
  });

  test('moderators read every item but change none; admins delete any', async () => {
    const item = (await call('POST', '/items', tokens.alice, { title: 'bread' })).json();
    const all = (await call('GET', '/items', tokens.mia)).json().items as { owner_id: string }[];
    assert.ok(new Set(all.map((i) => i.owner_id)).size >= 2, 'the moderator sees several owners');
    assert.equal((await call('GET', `/items/${item.id}`, tokens.mia)).statusCode, 200);
    assert.equal((await call('PATCH', `/items/${item.id}`, tokens.mia, { title: 'x' })).statusCode, 403);
    assert.equal((await call('DELETE', `/items/${item.id}`, tokens.mia)).statusCode, 403);

    assert.equal((await call('DELETE', `/items/${item.id}`, tokens.root)).statusCode, 204);
    assert.equal((await call('GET', `/items/${item.id}`, tokens.alice)).statusCode, 404);
  });

  test('a token narrowed to items:read, or an API key with that scope, reads but cannot write', async () => {
    const readOnly = await login('alice', 'items:read');
    assert.equal((await call('GET', '/items', readOnly)).statusCode, 200);
    const refused = await call('POST', '/items', readOnly, { title: 'nope' });
    assert.equal(refused.statusCode, 403);
    assert.equal(
      refused.headers['www-authenticate'],
      'Bearer error="insufficient_scope", scope="items:write"',
    );

    const created = await call('POST', '/api-keys', tokens.alice, { name: 'reader', scopes: ['items:read'] });
    assert.equal(created.statusCode, 201, created.body);
    const { key } = created.json();
    const listed = await app.inject({ method: 'GET', url: '/items', headers: { 'x-api-key': key } });
    assert.equal(listed.statusCode, 200);
    assert.ok(listed.json().items.length > 0);
    const write = await app.inject({
      method: 'POST',
      url: '/items',
      headers: { 'x-api-key': key },
      payload: { title: 'x' },
    });
    assert.equal(write.statusCode, 403);
  });

  test('taking a permission from a role takes effect on the next request of existing tokens', async () => {
    const token = await login('bob');
    assert.equal((await call('POST', '/items', token, { title: 'before' })).statusCode, 201);
    const user = (await call('GET', '/roles', tokens.root))
      .json()
      .items.find((r: { name: string }) => r.name === 'user');
    const without = user.permissions.filter((p: string) => p !== 'items:write');
    assert.equal((await call('PATCH', '/roles/user', tokens.root, { permissions: without })).statusCode, 200);
    try {
      assert.equal((await call('POST', '/items', token, { title: 'after' })).statusCode, 403);
    } finally {
      await call('PATCH', '/roles/user', tokens.root, { permissions: user.permissions });
    }
    assert.equal((await call('POST', '/items', token, { title: 'restored' })).statusCode, 201);
  });

  test('anonymous callers get 401 and bad input a 4xx that changes nothing', async () => {
    const anonymous = await call('GET', '/items');
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer');
    const before = (await call('GET', '/items', tokens.root)).json().items.length;
    for (const payload of [{}, { title: '' }, { title: 'x', owner_id: 'someone' }, { title: 7 }]) {
      const response = await call('POST', '/items', tokens.alice, payload);
      assert.ok(
        response.statusCode >= 400 && response.statusCode < 500,
        `${JSON.stringify(payload)}: ${response.statusCode}`,
      );
    }
    assert.equal((await call('PATCH', '/items/nope', tokens.alice, { done: 'maybe' })).statusCode, 400);
    assert.equal((await call('GET', '/items', tokens.root)).json().items.length, before);
  });
});
