/**
 * Gatehouse and the resource server as two processes, as they run in production: a token from
 * one is accepted by the other, follows key rotation, and is refused once its key is past its
 * lifetime and gone from the JWKS.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { freePort, type Running, start } from '../../test/support/process.ts';

const BIN = resolve('bin/gatehouse.js');
const RESOURCE_SERVER = resolve('examples/resource-server/server.ts');
const PASSWORD = 'correct horse battery staple';
const FAST_ARGON2 = { GATEHOUSE_ARGON2_MEMORY_KIB: '1024', GATEHOUSE_ARGON2_ITERATIONS: '1' };

describe('examples/resource-server: Gatehouse and a resource server as two processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-two-process-'));
  const running: Running[] = [];
  after(async () => {
    await Promise.all(running.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  test('a token is accepted across processes, follows key rotation, and is refused once its key is gone', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const gatehouseEnv = {
      GATEHOUSE_PORT: String(port),
      GATEHOUSE_ISSUER: issuer,
      GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
      ...FAST_ARGON2,
    };
    const startGatehouse = async () => {
      const server = await start(
        [BIN, 'serve'],
        gatehouseEnv,
        /Server listening at (http:\/\/127\.0\.0\.1:\d+)/,
      );
      running.push(server);
      return server;
    };
    const startResourceServer = async () => {
      const server = await start(
        [RESOURCE_SERVER],
        { GATEHOUSE_ISSUER: issuer, PORT: '0', JWKS_COOLDOWN_MS: '0' },
        /resource server on (http:\/\/127\.0\.0\.1:\d+)/,
      );
      running.push(server);
      return server;
    };
    const stop = async (server: Running) => {
      await server.stop();
      running.splice(running.indexOf(server), 1);
    };
    const kids = async () =>
      (
        (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as {
          keys: { kid: string; alg: string }[];
        }
      ).keys
        // The access-token keys; the RS256 ID-token key of the OpenID Provider is listed too.
        .filter((key) => key.alg === 'EdDSA')
        .map((key) => key.kid);
    const kidOf = (token: string) =>
      (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;
    const login = async () => {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'alice', password: PASSWORD }),
      });
      assert.equal(response.status, 200);
      return ((await response.json()) as { access_token: string }).access_token;
    };
    const hello = (server: Running, token: string) =>
      fetch(`${server.url}/hello`, { headers: { authorization: `Bearer ${token}` } });

    let gatehouse = await startGatehouse();
    let resource = await startResourceServer();
    const registered = await fetch(`${issuer}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', email: 'alice@example.com', password: PASSWORD }),
    });
    assert.equal(registered.status, 201);

    // A token from Gatehouse works at the resource server, which has no database.
    const first = await login();
    const accepted = await hello(resource, first);
    assert.equal(accepted.status, 200);
    assert.deepEqual(await accepted.json(), { message: 'Hello, alice' });
    const reports = await fetch(`${resource.url}/reports`, { headers: { authorization: `Bearer ${first}` } });
    assert.equal(reports.status, 403);
    assert.equal(
      reports.headers.get('www-authenticate'),
      'Bearer error="insufficient_scope", scope="reports:read"',
    );
    const whoami = await fetch(`${resource.url}/whoami`, { headers: { authorization: `Bearer ${first}` } });
    assert.equal(((await whoami.json()) as { user: string }).user, 'alice');
    const forged = `${first.slice(0, -4)}AAAA`;
    assert.equal((await hello(resource, forged)).status, 401);
    assert.equal((await hello(resource, 'not.a.token')).status, 401);
    assert.equal((await fetch(`${resource.url}/hello`)).status, 401);

    // Rotate the key (the CLI, against the same database) and restart Gatehouse: both keys are
    // published; the resource server, which cached only the first, fetches the new one itself.
    const [firstKid] = await kids();
    assert.equal(kidOf(first), firstKid);
    await stop(gatehouse);
    const rotated = spawnSync(process.execPath, [BIN, 'keys', 'rotate'], {
      env: { PATH: process.env.PATH ?? '', ...gatehouseEnv },
      encoding: 'utf8',
    });
    assert.equal(rotated.status, 0, rotated.stderr);
    gatehouse = await startGatehouse();
    const second = await login();
    assert.notEqual(kidOf(second), firstKid);
    assert.deepEqual((await kids()).sort(), [firstKid, kidOf(second)].sort());
    assert.equal((await hello(resource, second)).status, 200, 'a token from the new key');
    assert.equal((await hello(resource, first)).status, 200, 'the retired key still verifies');

    // Past the retired key's lifetime (access-token lifetime + skew, here moved back a day), it
    // leaves the JWKS: Gatehouse and a resource server that fetches the JWKS refuse its tokens.
    await stop(gatehouse);
    const database = new DatabaseSync(join(dir, 'gatehouse.db'));
    database
      .prepare('UPDATE signing_keys SET retired_at = ? WHERE kid = ?')
      .run(Date.now() - 24 * 3600 * 1000, firstKid ?? '');
    database.close();
    gatehouse = await startGatehouse();
    assert.deepEqual(await kids(), [kidOf(second)]);
    const atGatehouse = await fetch(`${issuer}/users/me`, { headers: { authorization: `Bearer ${first}` } });
    assert.equal(atGatehouse.status, 401);
    await stop(resource);
    resource = await startResourceServer();
    const refused = await hello(resource, first);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    assert.equal((await hello(resource, second)).status, 200);
  });
});
