/**
 * The framework-free core of @gatehouse/verify: `verifyRequest(headers)` and the attacks every
 * adapter relies on it to refuse, against a real Gatehouse's JWKS.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Verifier } from '../../packages/verify/src/index.ts';
import { type Issuer, startIssuer } from './issuer.ts';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const partsOf = (token: string) => {
  const [header = '', payload = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
    signature: token.split('.')[2] ?? '',
  };
};

describe('verifyRequest(headers): the server’s answer without a framework', () => {
  let issuer: Issuer;
  let verifier: Verifier;
  before(async () => {
    issuer = await startIssuer();
    verifier = issuer.verifier();
  });
  after(() => issuer.close());

  test('a valid token passes with its principal, from Node headers or Fetch Headers', async () => {
    const { bob } = issuer.tokens;
    const fromNode = await verifier.verifyRequest({ authorization: `Bearer ${bob}` });
    assert.equal(fromNode.ok, true);
    assert.equal(fromNode.ok && fromNode.principal?.username, 'bob');
    assert.deepEqual(fromNode.ok && [...(fromNode.principal?.roles ?? [])].sort(), ['reporter', 'user']);
    const fromFetch = await verifier.verifyRequest(new Headers({ authorization: `bearer ${bob}` }), {
      scopes: ['reports:read'],
      roles: ['reporter'],
    });
    assert.equal(fromFetch.ok && fromFetch.principal?.scopes.has('reports:read'), true);
    assert.deepEqual(await verifier.verifyRequest({}, { optional: true }), { ok: true, principal: null });
  });

  test('a refusal carries the status, headers and body to send, and a code', async () => {
    const missing = await verifier.verifyRequest({});
    assert.equal(missing.ok, false);
    assert.ok(!missing.ok);
    assert.equal(missing.status, 401);
    assert.deepEqual(missing.headers, {
      'content-type': 'application/json; charset=utf-8',
      'www-authenticate': 'Bearer',
    });
    assert.deepEqual(missing.body, { detail: 'Not authenticated' });
    assert.equal(missing.error.code, 'NOT_AUTHENTICATED');

    // The verdict is a ResponseInit: a Fetch handler sends it as it is.
    const scoped = await verifier.verifyRequest(
      { authorization: `Bearer ${issuer.tokens.alice}` },
      { scopes: ['reports:read', 'audit:read'] },
    );
    assert.ok(!scoped.ok);
    assert.equal(scoped.error.code, 'INSUFFICIENT_SCOPE');
    const response = new Response(JSON.stringify(scoped.body), scoped);
    assert.equal(response.status, 403);
    assert.equal(
      response.headers.get('www-authenticate'),
      'Bearer error="insufficient_scope", scope="reports:read audit:read"',
    );
    assert.deepEqual(await response.json(), { detail: 'Not enough permissions' });
    assert.deepEqual(
      await issuer.serverAnswer('/users/me', `Bearer ${issuer.tokens.expired}`),
      await (async () => {
        const verdict = await verifier.verifyRequest({ authorization: `Bearer ${issuer.tokens.expired}` });
        assert.ok(!verdict.ok);
        assert.equal(verdict.error.code, 'INVALID_TOKEN');
        return {
          status: verdict.status,
          wwwAuthenticate: verdict.headers['www-authenticate'],
          contentType: verdict.headers['content-type'],
          body: verdict.body,
        };
      })(),
    );
  });

  test('attack: unsigned (alg none), HMAC keyed with the public key, and edited-claims tokens are invalid_token', async () => {
    const { header, payload, signature } = partsOf(issuer.tokens.alice);
    const jwks = (await (await fetch(issuer.jwksUri)).json()) as { keys: Record<string, string>[] };
    const publicKey = JSON.stringify(jwks.keys[0]);
    const hsHeader = b64url({ ...header, alg: 'HS256' });
    const hsBody = `${hsHeader}.${b64url(payload)}`;
    const attacks = {
      none: `${b64url({ ...header, alg: 'none' })}.${b64url(payload)}.`,
      hmacWithPublicKey: `${hsBody}.${createHmac('sha256', publicKey).update(hsBody).digest('base64url')}`,
      adminRole: `${b64url(header)}.${b64url({ ...payload, roles: ['admin'] })}.${signature}`,
      otherSubject: `${b64url(header)}.${b64url({ ...payload, sub: 'someone-else' })}.${signature}`,
    };
    for (const [name, token] of Object.entries(attacks)) {
      const verdict = await verifier.verifyRequest({ authorization: `Bearer ${token}` }, { optional: true });
      assert.equal(!verdict.ok && verdict.error.code, 'INVALID_TOKEN', name);
      assert.equal((await issuer.serverAnswer('/users/me', `Bearer ${token}`)).status, 401, name);
    }
  });

  test('attack: a token for another audience or over 8 KiB is invalid_token; a second token in the header is not read', async () => {
    const other = issuer.verifier({ audience: 'https://other.example' });
    const foreign = await other.verifyRequest({ authorization: `Bearer ${issuer.tokens.alice}` });
    assert.equal(!foreign.ok && foreign.error.code, 'INVALID_TOKEN');
    const huge = await verifier.verifyRequest({ authorization: `Bearer ${'a'.repeat(9000)}` });
    assert.equal(!huge.ok && huge.error.code, 'INVALID_TOKEN');
    const two = await verifier.verifyRequest({
      authorization: `Bearer ${issuer.tokens.alice} ${issuer.tokens.bob}`,
    });
    assert.equal(!two.ok && two.error.code, 'NOT_AUTHENTICATED');
  });
});

describe('@gatehouse/verify as a package', () => {
  test('it depends on jose alone; Fastify, Express and Hono are optional peers', () => {
    const pkg = JSON.parse(readFileSync('packages/verify/package.json', 'utf8'));
    assert.deepEqual(Object.keys(pkg.dependencies), ['jose']);
    assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), ['express', 'fastify', 'hono']);
    for (const peer of ['express', 'fastify', 'hono']) {
      assert.equal(pkg.peerDependenciesMeta[peer].optional, true, peer);
    }
    assert.deepEqual(pkg.files, ['dist']);
    for (const entry of ['.', './fastify', './express', './hono']) {
      // The repository's own source condition first, then what an installed package resolves.
      assert.deepEqual(Object.keys(pkg.exports[entry]), ['gatehouse-source', 'types', 'import'], entry);
    }
  });

  test('the core module and the adapters load no web framework: adapters use only its types', () => {
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({
        resolve(specifier, context, next) {
          if (/^(fastify|express|hono)(\\/|$)/.test(specifier)) loaded.push(specifier);
          return next(specifier, context);
        },
      });
      const out = {};
      for (const entry of ['index', 'fastify', 'express', 'hono']) {
        loaded.length = 0;
        await import('./packages/verify/src/' + entry + '.ts');
        out[entry] = [...loaded];
      }
      console.log(JSON.stringify(out));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { index: [], fastify: [], express: [], hono: [] });
  });
});
