/**
 * Real protocol servers for external sign-in tests: an OpenID Connect provider
 * (oauth2-mock-server: discovery, JWKS, authorize with PKCE and nonce, token, signed ID tokens)
 * and a small stand-in for GitHub's authorize, token, user and emails endpoints. Both listen on
 * OS-chosen ports on 127.0.0.1.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { OAuth2Server } from 'oauth2-mock-server';

export interface TestOidcProvider {
  readonly server: OAuth2Server;
  readonly issuer: string;
  /** Claims the next ID tokens get (email, email_verified, sub, …); merged over the defaults. */
  claims: Record<string, unknown>;
  close(): Promise<void>;
}

export async function startOidcProvider(): Promise<TestOidcProvider> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  const provider: TestOidcProvider = {
    server,
    issuer: server.issuer.url as string,
    claims: {},
    close: () => server.stop(),
  };
  server.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
    Object.assign(token.payload, provider.claims);
  });
  return provider;
}

/** An ID token of `provider` as its SDK hands one to an app: `claims` over a jti of its own (two alike would be one replayed). */
export function providerIdToken(
  provider: TestOidcProvider,
  claims: Record<string, unknown>,
): Promise<string> {
  return provider.server.issuer.buildToken({
    expiresIn: 600,
    scopesOrTransform: (_header: unknown, payload: Record<string, unknown>) => {
      Object.assign(payload, { jti: randomBytes(12).toString('hex'), ...claims });
    },
  });
}

export interface GithubUser {
  id: number;
  login: string;
  name?: string;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface TestGithub {
  readonly url: string;
  /** Who signs in at the stand-in's authorize endpoint next. */
  user: GithubUser;
  /** The REST API answers with a proxy's HTML error page (502) instead. */
  apiDown: boolean;
  close(): Promise<void>;
}

/**
 * GitHub's OAuth app endpoints and REST API, as far as sign-in uses them (PKCE checked). With
 * `consentPage`, authorize shows a page whose button approves, as GitHub's does.
 */
export async function startGithubStandIn(options: { consentPage?: boolean } = {}): Promise<TestGithub> {
  const app: FastifyInstance = Fastify();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  const codes = new Map<string, { user: GithubUser; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, GithubUser>();
  const standIn = {
    url: '',
    user: { id: 1, login: 'octocat', emails: [] } as GithubUser,
    apiDown: false,
    close: () => app.close(),
  };
  app.addHook('onRequest', async (request, reply) => {
    if (standIn.apiDown && request.url.startsWith('/api/')) {
      return reply.code(502).type('text/html').send('<html><body>Bad gateway</body></html>');
    }
  });
  app.get<{ Querystring: Record<string, string> }>('/login/oauth/authorize', async (request, reply) => {
    const { redirect_uri, state, code_challenge, code_challenge_method } = request.query;
    if (!redirect_uri || code_challenge_method !== 'S256' || !code_challenge) return reply.code(400).send();
    if (options.consentPage && request.query.approved !== 'yes') {
      const approve = new URLSearchParams({ ...request.query, approved: 'yes' });
      return reply
        .type('text/html')
        .send(
          `<!doctype html><title>Authorize</title><h1>Authorize Gatehouse</h1><a href="/login/oauth/authorize?${approve.toString().replaceAll('&', '&amp;')}">Authorize</a>`,
        );
    }
    const code = randomBytes(10).toString('hex');
    codes.set(code, { user: standIn.user, challenge: code_challenge, redirectUri: redirect_uri });
    const back = new URL(redirect_uri);
    back.searchParams.set('code', code);
    if (state) back.searchParams.set('state', state);
    return reply.code(302).header('location', back.href).send();
  });
  app.post<{ Body: Record<string, string> }>('/login/oauth/access_token', async (request, reply) => {
    const { code, code_verifier, redirect_uri } = request.body;
    const grant = code ? codes.get(code) : undefined;
    if (code) codes.delete(code);
    const challenge = createHash('sha256')
      .update(code_verifier ?? '')
      .digest('base64url');
    if (!grant || grant.challenge !== challenge || grant.redirectUri !== redirect_uri) {
      return reply.code(400).send({ error: 'bad_verification_code' });
    }
    const token = `gho_${randomBytes(12).toString('hex')}`;
    tokens.set(token, grant.user);
    return { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' };
  });
  const userOf = (authorization: string | undefined) =>
    tokens.get((authorization ?? '').replace(/^Bearer /, ''));
  app.get('/api/user', async (request, reply) => {
    const user = userOf(request.headers.authorization);
    if (!user) return reply.code(401).send({ message: 'Bad credentials' });
    return { id: user.id, login: user.login, name: user.name ?? null, email: null };
  });
  app.get('/api/user/emails', async (request, reply) => {
    const user = userOf(request.headers.authorization);
    if (!user) return reply.code(401).send({ message: 'Bad credentials' });
    return user.emails.map((e) => ({ ...e, visibility: null }));
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  standIn.url = address;
  return standIn;
}

export interface FlowStep {
  readonly status: number;
  readonly location: string | undefined;
  /** `name=value` of the cookies set, by name. */
  readonly cookies: Record<string, string>;
}

function stepOf(response: {
  statusCode: number;
  headers: Record<string, unknown>;
  cookies: { name: string; value: string }[];
}): FlowStep {
  const location = response.headers.location;
  return {
    status: response.statusCode,
    location: typeof location === 'string' ? location : undefined,
    cookies: Object.fromEntries(response.cookies.map((c) => [c.name, `${c.name}=${c.value}`])),
  };
}

/** `GET /oauth/<provider>/authorize` (or any request that starts a flow). */
export async function startSignIn(
  app: FastifyInstance,
  provider: string,
  query = '',
): Promise<FlowStep & { stateCookie: string }> {
  const step = stepOf(await app.inject({ method: 'GET', url: `/oauth/${provider}/authorize${query}` }));
  const stateCookie = Object.values(step.cookies).find((c) => c.includes('gatehouse_oauth=')) ?? '';
  return { ...step, stateCookie };
}

/** The browser at the provider: follows its redirect back and returns the callback's path and query. */
export async function visitProvider(authorizationUrl: string): Promise<string> {
  const response = await fetch(authorizationUrl, { redirect: 'manual' });
  const back = response.headers.get('location');
  if (response.status !== 302 || back === null) {
    throw new Error(`provider answered ${response.status}: ${await response.text()}`);
  }
  const url = new URL(back);
  return `${url.pathname}${url.search}`;
}

export async function finishSignIn(
  app: FastifyInstance,
  callbackPath: string,
  cookie: string,
): Promise<FlowStep> {
  return stepOf(
    await app.inject({ method: 'GET', url: callbackPath, headers: cookie === '' ? {} : { cookie } }),
  );
}

/** The whole browser flow; returns the callback's answer. */
export async function signInWith(app: FastifyInstance, provider: string, query = ''): Promise<FlowStep> {
  const start = await startSignIn(app, provider, query);
  if (start.status !== 302 || start.location === undefined)
    throw new Error(`authorize answered ${start.status}`);
  return finishSignIn(app, await visitProvider(start.location), start.stateCookie);
}
