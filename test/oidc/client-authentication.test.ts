/**
 * Client authentication (RFC 6749 §2.3, RFC 7523): every method, and the attacks on each —
 * another client's secret, a public client with a secret, the wrong method, and assertions with
 * a wrong audience, expired, replayed (also across processes), signed by an unknown key, `none`
 * or HS256. Secret rotation keeps the old secret for the overlap window only. On SQLite and
 * PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import { JWT_BEARER_ASSERTION } from '../../src/auth/oidc/client-authentication.ts';
import type { PresentedClientCredentials } from '../../src/auth/oidc/client-types.ts';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { createTestApp, DATABASES, TEST_DATABASE_URL, type TestApp } from '../support/gatehouse.ts';

const OPERATOR = operatorActor('test');
const WEB = { clientName: 'Web', redirectUris: ['https://app.example.com/cb'] };
const TOKEN_URL = 'http://gatehouse.test/token';
const NOTHING: PresentedClientCredentials = {
  authorization: undefined,
  clientId: undefined,
  clientSecret: undefined,
  clientAssertionType: undefined,
  clientAssertion: undefined,
};

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function invalidClient(work: Promise<unknown>, reason?: RegExp, usedBasic?: boolean): Promise<void> {
  await assert.rejects(work, (error: { code?: string; reason?: string; usedBasic?: boolean }) => {
    assert.equal(error.code, 'INVALID_CLIENT');
    if (reason) assert.match(error.reason ?? '', reason);
    if (usedBasic !== undefined) assert.equal(error.usedBasic, usedBasic);
    return true;
  });
}

async function signingKey(alg: 'ES256' | 'RS256' | 'EdDSA' = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: randomUUID(), alg };
  return { privateKey, jwk, alg };
}

type Signer = Awaited<ReturnType<typeof signingKey>>;

/** A client assertion of `clientId` for the token endpoint, living a minute, with `claims` on top. */
function signAssertion(
  signer: Signer,
  clientId: string,
  nowSeconds: number,
  claims: Record<string, unknown> = {},
) {
  const { iss = clientId, sub = clientId, aud = TOKEN_URL, exp = nowSeconds + 60, ...rest } = claims;
  return new SignJWT({ jti: randomUUID(), ...rest })
    .setProtectedHeader({ alg: signer.alg, kid: signer.jwk.kid as string })
    .setIssuer(iss as string)
    .setSubject(sub as string)
    .setAudience(aud as string)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(exp as number)
    .sign(signer.privateKey);
}

for (const database of DATABASES) {
  describe(`client authentication (${database.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url, env: { GATEHOUSE_CLIENT_SECRET_OVERLAP: '1h' } });
    });
    after(() => t.close());
    const clients = () => t.gatehouse.clients;
    const authenticate = (presented: Partial<PresentedClientCredentials>) =>
      clients().authenticate({ ...NOTHING, ...presented }, TOKEN_URL);

    test('client_secret_basic: form-urlencoded id and secret in Basic; a wrong one is refused with usedBasic', async () => {
      const { client, clientSecret } = await clients().register(OPERATOR, WEB);
      const secret = clientSecret as string;
      assert.equal(
        (await authenticate({ authorization: basic(client.clientId, secret) })).clientId,
        client.clientId,
      );
      await invalidClient(
        authenticate({ authorization: basic(client.clientId, `${secret}x`) }),
        /wrong secret/,
        true,
      );
      await invalidClient(authenticate({ authorization: 'Basic !!!' }), /malformed/, true);
      // Basic (id:secret) unencoded but with a percent sign that does not decode.
      const raw = `Basic ${Buffer.from(`${client.clientId}:%zz`).toString('base64')}`;
      await invalidClient(authenticate({ authorization: raw }), /malformed/, true);
      await invalidClient(
        authenticate({ clientId: client.clientId, clientSecret: secret }),
        /registered client_secret_basic/,
        false,
      );
      await invalidClient(authenticate({ clientId: client.clientId }), /used none/);
    });

    test('client_secret_post: the secret in the form; Basic is refused for it', async () => {
      const { client, clientSecret } = await clients().register(OPERATOR, {
        ...WEB,
        tokenEndpointAuthMethod: 'client_secret_post',
      });
      const secret = clientSecret as string;
      assert.equal(
        (await authenticate({ clientId: client.clientId, clientSecret: secret })).clientId,
        client.clientId,
      );
      await invalidClient(
        authenticate({ authorization: basic(client.clientId, secret) }),
        /registered client_secret_post/,
      );
      await invalidClient(authenticate({ clientSecret: secret }), /without client_id/);
    });

    test("another client's secret, an unknown client, or two methods at once are refused", async () => {
      const a = await clients().register(OPERATOR, WEB);
      const b = await clients().register(OPERATOR, WEB);
      await invalidClient(
        authenticate({ authorization: basic(a.client.clientId, b.clientSecret as string) }),
        /wrong secret/,
      );
      await invalidClient(
        authenticate({ authorization: basic('no-such-client', a.clientSecret as string) }),
        /unknown client/,
      );
      await invalidClient(
        authenticate({
          authorization: basic(a.client.clientId, a.clientSecret as string),
          clientSecret: a.clientSecret,
        }),
        /more than one/,
      );
      await invalidClient(
        authenticate({
          authorization: basic(a.client.clientId, a.clientSecret as string),
          clientId: b.client.clientId,
        }),
        /mismatch/,
      );
      await invalidClient(authenticate({}), /no client credentials/);
    });

    test('none: a public client presents only its client_id, and one presenting a secret is refused', async () => {
      const { client } = await clients().register(OPERATOR, { ...WEB, tokenEndpointAuthMethod: 'none' });
      const confidential = await clients().register(OPERATOR, WEB);
      assert.equal((await authenticate({ clientId: client.clientId })).type, 'public');
      await invalidClient(
        authenticate({ clientId: client.clientId, clientSecret: 'anything' }),
        /registered none/,
      );
      await invalidClient(
        authenticate({ authorization: basic(client.clientId, confidential.clientSecret as string) }),
        /registered none/,
      );
      await invalidClient(authenticate({ clientId: 'no-such-client' }), /unknown client/);
    });

    describe('private_key_jwt', () => {
      let key: Signer;
      let clientId: string;
      before(async () => {
        key = await signingKey();
        const { client } = await clients().register(OPERATOR, {
          ...WEB,
          tokenEndpointAuthMethod: 'private_key_jwt',
          jwks: { keys: [key.jwk] },
        });
        clientId = client.clientId;
      });
      const now = () => Math.floor(t.clock.now() / 1000);
      const assertion = (claims: Record<string, unknown> = {}, signer = key) =>
        signAssertion(signer, clientId, now(), claims);
      const present = (jwt: string, extra: Partial<PresentedClientCredentials> = {}) =>
        authenticate({ clientAssertionType: JWT_BEARER_ASSERTION, clientAssertion: jwt, ...extra });

      test('an assertion for the endpoint or the issuer, signed by a registered key, is accepted once', async () => {
        assert.equal((await present(await assertion())).clientId, clientId);
        assert.equal((await present(await assertion({ aud: 'http://gatehouse.test' }))).clientId, clientId);
        assert.equal((await present(await assertion(), { clientId })).clientId, clientId);
        const once = await assertion();
        await present(once);
        await invalidClient(present(once), /replayed/);
      });

      test('a wrong audience, expiry, lifetime, issuer or missing jti is refused', async () => {
        await invalidClient(
          present(await assertion({ aud: 'https://elsewhere.example/token' })),
          /ERR_JWT_CLAIM_VALIDATION_FAILED/,
        );
        await invalidClient(present(await assertion({ exp: now() - 120 })), /ERR_JWT_EXPIRED/);
        await invalidClient(present(await assertion({ exp: now() + 3600 })), /too long/);
        await invalidClient(
          present(await assertion({ iss: 'someone-else' })),
          /ERR_JWT_CLAIM_VALIDATION_FAILED/,
        );
        const noJti = await new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', kid: key.jwk.kid as string })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(TOKEN_URL)
          .setExpirationTime(now() + 60)
          .sign(key.privateKey);
        await invalidClient(present(noJti), /ERR_JWT_CLAIM_VALIDATION_FAILED/);
        await invalidClient(
          authenticate({ clientAssertionType: 'urn:other', clientAssertion: await assertion() }),
          /unsupported/,
        );
        await invalidClient(present('not.a.jwt'), /malformed/);
      });

      test('an unknown key, alg none, or HS256 keyed with a secret is refused', async () => {
        await invalidClient(present(await assertion({}, await signingKey())), /ERR_JWKS_NO_MATCHING_KEY/);
        const unsecured = new UnsecuredJWT({ jti: randomUUID() })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(TOKEN_URL)
          .setExpirationTime(now() + 60)
          .encode();
        await invalidClient(present(unsecured), /refused/);
        const { clientSecret } = await clients().register(OPERATOR, WEB);
        const hs256 = await new SignJWT({ jti: randomUUID() })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(clientId)
          .setSubject(clientId)
          .setAudience(TOKEN_URL)
          .setExpirationTime(now() + 60)
          .sign(new TextEncoder().encode(clientSecret));
        await invalidClient(present(hs256), /ERR_JOSE_ALG_NOT_ALLOWED/);
      });

      test('a client with a jwks_uri is verified with the keys fetched from it', async () => {
        const remote = await signingKey('EdDSA');
        const server: Server = createServer((_req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ keys: [remote.jwk] }));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        try {
          const port = (server.address() as { port: number }).port;
          const { client } = await clients().register(OPERATOR, {
            ...WEB,
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwksUri: `http://127.0.0.1:${port}/jwks`,
          });
          const jwt = await signAssertion(remote, client.clientId, now());
          assert.equal((await present(jwt)).clientId, client.clientId);
          const foreign = await signAssertion(key, client.clientId, now());
          await invalidClient(present(foreign), /refused/);
        } finally {
          server.close();
        }
      });
    });

    test('after a rotation the old secret works within the overlap window and not after it', async () => {
      const { client, clientSecret } = await clients().register(OPERATOR, WEB);
      const old = clientSecret as string;
      const rotated = await clients().rotateSecret(OPERATOR, client.clientId);
      assert.notEqual(rotated.clientSecret, old);
      assert.equal(rotated.previousSecretsExpireAt, t.clock.now() + 3600_000);
      await authenticate({ authorization: basic(client.clientId, old) });
      await authenticate({ authorization: basic(client.clientId, rotated.clientSecret) });
      t.clock.advance(3600_000 - 1000);
      await authenticate({ authorization: basic(client.clientId, old) });
      t.clock.advance(1000);
      await invalidClient(authenticate({ authorization: basic(client.clientId, old) }), /wrong secret/);
      await authenticate({ authorization: basic(client.clientId, rotated.clientSecret) });
      // A second rotation ends the first one's overlap no later than its own.
      const again = await clients().rotateSecret(OPERATOR, client.clientId);
      await authenticate({ authorization: basic(client.clientId, rotated.clientSecret) });
      t.clock.advance(3600_000);
      await invalidClient(authenticate({ authorization: basic(client.clientId, rotated.clientSecret) }));
      await authenticate({ authorization: basic(client.clientId, again.clientSecret) });
      const publicClient = await clients().register(OPERATOR, { ...WEB, tokenEndpointAuthMethod: 'none' });
      await assert.rejects(clients().rotateSecret(OPERATOR, publicClient.client.clientId), {
        code: 'INVALID_CLIENT_METADATA',
      });
    });
  });
}

describe('client authentication across processes', () => {
  test('an assertion used in one process is refused in another', { skip: !TEST_DATABASE_URL }, async () => {
    const one = await createTestApp({ databaseUrl: TEST_DATABASE_URL });
    const two = await createTestApp({
      databaseUrl: TEST_DATABASE_URL,
      sharePgSchemaOf: one,
      clock: one.clock,
    });
    try {
      const key = await signingKey();
      const { client } = await one.gatehouse.clients.register(OPERATOR, {
        ...WEB,
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: { keys: [key.jwk] },
      });
      const jwt = await signAssertion(key, client.clientId, Math.floor(one.clock.now() / 1000));
      const presented = { ...NOTHING, clientAssertionType: JWT_BEARER_ASSERTION, clientAssertion: jwt };
      await one.gatehouse.clients.authenticate(presented, TOKEN_URL);
      await invalidClient(two.gatehouse.clients.authenticate(presented, TOKEN_URL), /replayed/);
    } finally {
      await two.close();
      await one.close();
    }
  });
});

describe('client authentication throttling', () => {
  test('failed client authentication is throttled like passwords, per client and address', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_LOGIN_MAX_FAILURES: '3' } });
    try {
      const { client, clientSecret } = await t.gatehouse.clients.register(OPERATOR, WEB);
      const ctx = { ip: '203.0.113.9', userAgent: null };
      const attempt = (secret: string) =>
        t.gatehouse.clients.authenticate(
          { ...NOTHING, authorization: basic(client.clientId, secret) },
          TOKEN_URL,
          ctx,
        );
      for (let i = 0; i < 3; i++) await invalidClient(attempt('guess'));
      await assert.rejects(attempt(clientSecret as string), { code: 'LOGIN_THROTTLED' });
      const elsewhere = { ip: '198.51.100.7', userAgent: null };
      const fromElsewhere = await t.gatehouse.clients.authenticate(
        { ...NOTHING, authorization: basic(client.clientId, clientSecret as string) },
        TOKEN_URL,
        elsewhere,
      );
      assert.equal(fromElsewhere.clientId, client.clientId);
    } finally {
      await t.close();
    }
  });
});

describe('GATEHOUSE_CLIENT_SECRET_OVERLAP', () => {
  test('0 ends the previous secret at the rotation; a malformed value is a configuration error', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_CLIENT_SECRET_OVERLAP: '0' } });
    try {
      const { client, clientSecret } = await t.gatehouse.clients.register(OPERATOR, WEB);
      const rotated = await t.gatehouse.clients.rotateSecret(OPERATOR, client.clientId);
      const attempt = (secret: string) =>
        t.gatehouse.clients.authenticate(
          { ...NOTHING, authorization: basic(client.clientId, secret) },
          TOKEN_URL,
        );
      await invalidClient(attempt(clientSecret as string), /wrong secret/);
      assert.equal((await attempt(rotated.clientSecret)).clientId, client.clientId);
    } finally {
      await t.close();
    }
    await assert.rejects(
      createTestApp({ env: { GATEHOUSE_CLIENT_SECRET_OVERLAP: 'an hour' } }),
      /GATEHOUSE_CLIENT_SECRET_OVERLAP/,
    );
  });
});
