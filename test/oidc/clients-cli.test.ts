/**
 * `gatehouse clients add|list|rotate-secret|remove` against a real SQLite file, in-process through
 * `main` with the console captured; what they print is checked against the service reading the
 * same file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createGatehouse } from '../../src/gatehouse.ts';
import { runGatehouse } from '../support/cli.ts';
import { FAST_ARGON2 } from '../support/gatehouse.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-clients-cli-'));
const env = {
  GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'clients.db')}`,
  GATEHOUSE_OUTBOX_DIR: join(dir, 'outbox'),
  GATEHOUSE_ISSUER: 'http://gatehouse.test',
  ...FAST_ARGON2,
};
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

const gatehouse = (...args: string[]) => runGatehouse(env, ...args);

/** Whether `secret` authenticates the client, asked of a Gatehouse on the same file. */
async function authenticates(clientId: string, secret: string): Promise<boolean> {
  const g = await createGatehouse(loadConfig(env));
  try {
    const presented = {
      authorization: basic(clientId, secret),
      clientId: undefined,
      clientSecret: undefined,
      clientAssertionType: undefined,
      clientAssertion: undefined,
    };
    await g.clients.authenticate(presented, 'http://gatehouse.test/token');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'INVALID_CLIENT') return false;
    throw error;
  } finally {
    await g.close();
  }
}

const field = (output: string, name: string) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(output)?.[1] ?? '';

describe('gatehouse clients', () => {
  before(async () => {
    assert.equal((await gatehouse('migrate')).code, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('add prints the client_id and the secret once; the secret authenticates the client', async () => {
    const added = await gatehouse(
      'clients',
      'add',
      '--name',
      'Dashboard',
      '--redirect-uri',
      'https://app.example.com/cb',
      '--redirect-uri',
      'http://localhost/cb',
      '--grant-type',
      'authorization_code',
      '--grant-type',
      'refresh_token',
      '--skip-consent',
      '--audience',
      'https://api.example.com',
    );
    assert.equal(added.code, 0, added.stderr);
    const clientId = field(added.stdout, 'client_id');
    const secret = field(added.stdout, 'client_secret');
    assert.match(clientId, /^[0-9a-f]{32}$/);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.match(added.stdout, /shown once/);
    assert.equal(await authenticates(clientId, secret), true);

    const listed = await gatehouse('clients', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(secret), 'list never shows a secret');
    const client = listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .find((c: { client_id: string }) => c.client_id === clientId);
    assert.deepEqual(client.redirect_uris, ['https://app.example.com/cb', 'http://localhost/cb']);
    assert.deepEqual(client.grant_types, ['authorization_code', 'refresh_token']);
    assert.equal(client.skip_consent, true);
    assert.equal(client.audience, 'https://api.example.com');
    assert.equal(client.scope, 'openid profile email offline_access');
  });

  test('add --public makes a client without a secret; --json prints the RFC 7591 answer', async () => {
    const publicClient = await gatehouse(
      'clients',
      'add',
      '--name',
      'SPA',
      '--public',
      '--redirect-uri',
      'https://spa.example.com/cb',
    );
    assert.equal(publicClient.code, 0, publicClient.stderr);
    assert.match(publicClient.stdout, /public client: no secret/);
    assert.doesNotMatch(publicClient.stdout, /client_secret/);
    const json = await gatehouse(
      'clients',
      'add',
      '--name',
      'Worker',
      '--grant-type',
      'client_credentials',
      '--scope',
      'items:read',
      '--json',
    );
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.equal(body.client_type, 'confidential');
    assert.deepEqual(body.grant_types, ['client_credentials']);
    assert.equal(body.scope, 'items:read');
    assert.equal(body.client_secret_expires_at, 0);
    assert.equal(await authenticates(body.client_id, body.client_secret), true);
  });

  test('refused metadata and missing flags exit non-zero with one line', async () => {
    const insecure = await gatehouse(
      'clients',
      'add',
      '--name',
      'Bad',
      '--redirect-uri',
      'http://app.example.com/cb',
    );
    assert.equal(insecure.code, 1);
    assert.match(insecure.stderr, /^gatehouse: redirect_uris: use https/);
    const publicMachine = await gatehouse(
      'clients',
      'add',
      '--name',
      'Bad',
      '--public',
      '--grant-type',
      'client_credentials',
    );
    assert.equal(publicMachine.code, 1);
    assert.match(publicMachine.stderr, /public client/);
    const noName = await gatehouse('clients', 'add', '--redirect-uri', 'https://a.example/cb');
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /needs --name/);
    const both = await gatehouse(
      'clients',
      'add',
      '--name',
      'x',
      '--public',
      '--auth-method',
      'client_secret_post',
    );
    assert.equal(both.code, 2);
    assert.equal((await gatehouse('clients', 'rotate-secret')).code, 2);
  });

  test('rotate-secret prints a new secret; the old one still works within the overlap', async () => {
    const added = await gatehouse(
      'clients',
      'add',
      '--name',
      'Rotating',
      '--redirect-uri',
      'https://r.example/cb',
    );
    const clientId = field(added.stdout, 'client_id');
    const old = field(added.stdout, 'client_secret');
    const rotated = await gatehouse('clients', 'rotate-secret', clientId);
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = field(rotated.stdout, 'client_secret');
    assert.notEqual(fresh, old);
    assert.match(rotated.stdout, /previous secret works until \d{4}-\d\d-\d\dT/);
    assert.equal(await authenticates(clientId, fresh), true);
    assert.equal(await authenticates(clientId, old), true);
    const json = JSON.parse((await gatehouse('clients', 'rotate-secret', clientId, '--json')).stdout);
    assert.equal(json.client_id, clientId);
    assert.equal(await authenticates(clientId, json.client_secret), true);
  });

  test('remove deletes the client (its secret stops working); an unknown id fails', async () => {
    const added = await gatehouse(
      'clients',
      'add',
      '--name',
      'Doomed',
      '--redirect-uri',
      'https://d.example/cb',
    );
    const clientId = field(added.stdout, 'client_id');
    const secret = field(added.stdout, 'client_secret');
    const removed = await gatehouse('clients', 'remove', clientId);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`removed ${clientId}`));
    assert.equal(await authenticates(clientId, secret), false);
    const again = await gatehouse('clients', 'remove', clientId);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Client not found/);
    const listed = await gatehouse('clients', 'list');
    assert.ok(!listed.stdout.includes(clientId));
  });

  test('the commands leave audit events as the CLI', async () => {
    const g = await createGatehouse(loadConfig(env));
    try {
      const events = await g.store.db
        .selectFrom('audit_events')
        .select(['event', 'actor_id', 'user_agent'])
        .where('event', 'like', 'client.%')
        .execute();
      const names = new Set(events.map((e) => e.event));
      assert.deepEqual([...names].sort(), ['client.created', 'client.deleted', 'client.secret_rotated']);
      for (const event of events) {
        assert.equal(event.actor_id, null);
        assert.equal(event.user_agent, 'gatehouse-cli');
      }
    } finally {
      await g.close();
    }
  });
});
