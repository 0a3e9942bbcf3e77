/**
 * A Gatehouse listening on a free port as an OpenID Provider (its issuer names the port, as
 * openid-client checks), an admin to register clients through `POST /clients`, a user to sign
 * in, and openid-client configurations for the clients.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import { createTestApp, login, PASSWORD, type TestApp } from '../support/gatehouse.ts';

/**
 * The relying party's web server: it answers its callback with a page, so the browser lands there
 * and the test reads the URL (openid-client does the rest in the test).
 */
export async function startAppServer(): Promise<{ callback: string; close(): Promise<void> }> {
  const server = createHttpServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    callback: `http://localhost:${port}/callback`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port the OS says is free, so the issuer can name it before the server listens. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Provider {
  readonly t: TestApp;
  readonly issuer: string;
  readonly adminToken: string;
  /** Registers a client through the admin API; returns its id and secret (confidential). */
  register(
    metadata: Record<string, unknown>,
  ): Promise<{ clientId: string; clientSecret: string | undefined }>;
  /** openid-client's configuration for a client, over plain http (a test server). */
  relyingParty(
    clientId: string,
    clientSecret: string | undefined,
    metadata?: Partial<client.ClientMetadata>,
  ): Promise<client.Configuration>;
  close(): Promise<void>;
}

export async function startProvider(
  databaseUrl: string | undefined,
  env: Record<string, string> = {},
): Promise<Provider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const t = await createTestApp({
    databaseUrl,
    env: { GATEHOUSE_ISSUER: issuer, GATEHOUSE_APP_NAME: 'Acme', ...env },
  });
  await t.app.listen({ host: '127.0.0.1', port });
  const g = t.gatehouse;
  await g.accounts.register({
    username: 'root',
    email: 'root@example.com',
    password: PASSWORD,
    roles: ['user', 'admin'],
  });
  await g.accounts.register({
    username: 'alice',
    email: 'alice@example.com',
    password: PASSWORD,
    fullName: 'Alice Liddell',
  });
  const adminToken = await login(t.app, 'root');
  return {
    t,
    issuer,
    adminToken,
    async register(metadata) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/clients',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: metadata,
      });
      if (response.statusCode !== 201)
        throw new Error(`register client: ${response.statusCode} ${response.body}`);
      const body = response.json();
      return { clientId: body.client_id, clientSecret: body.client_secret };
    },
    async relyingParty(clientId, clientSecret, metadata) {
      return client.discovery(
        new URL(issuer),
        clientId,
        metadata,
        clientSecret === undefined ? client.None() : client.ClientSecretBasic(clientSecret),
        { execute: [client.allowInsecureRequests] },
      );
    },
    close: () => t.close(),
  };
}

/** The authorization request of a relying party: its URL and the values to check the answer with. */
export async function authorizationRequest(
  config: client.Configuration,
  redirectUri: string,
  extra: Record<string, string> = {},
) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, checks: { pkceCodeVerifier, expectedState: state, expectedNonce: nonce } };
}

/** Signs `username` in with a cookie session (`POST /login`); returns the Cookie header value. */
export async function cookieSignIn(app: FastifyInstance, username: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username, password: PASSWORD },
  });
  if (response.statusCode !== 200) throw new Error(`login: ${response.statusCode} ${response.body}`);
  return response.cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
}

/** `GET /authorize` as the signed-in browser: the answer, and its `Location` when it redirects. */
export async function authorizeWithCookie(
  app: FastifyInstance,
  cookie: string | undefined,
  url: URL | string,
) {
  const target = new URL(url);
  const response = await app.inject({
    method: 'GET',
    url: `${target.pathname}${target.search}`,
    headers: cookie ? { cookie } : {},
  });
  const location = response.headers.location;
  return {
    response,
    location: typeof location === 'string' ? new URL(location, 'http://gatehouse.invalid') : undefined,
  };
}
