/**
 * A service that only checks Gatehouse tokens: no database, no Gatehouse configuration but the
 * issuer's URL. It fetches the issuer's JWKS and follows key rotation by itself.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { createVerifier } from 'gatehouse/verify';

export interface ResourceServerOptions {
  /** The Gatehouse server's issuer URL, e.g. http://127.0.0.1:8000. */
  readonly issuer: string;
  /** Milliseconds between JWKS fetches for an unknown `kid` (default 30 000). */
  readonly jwksCooldownMs?: number;
}

export function buildResourceServer(options: ResourceServerOptions): FastifyInstance {
  const verifier = createVerifier({
    issuer: options.issuer,
    ...(options.jwksCooldownMs !== undefined ? { cooldownDuration: options.jwksCooldownMs } : {}),
  });
  const { guards } = verifier;
  const app = Fastify();

  // Any valid access token from the issuer.
  app.get('/hello', { onRequest: guards.requireUser }, async (request) => ({
    message: `Hello, ${request.tokenPrincipal?.username}`,
  }));

  // Only tokens granted the `reports:read` scope (give a role that permission in Gatehouse).
  app.get('/reports', { onRequest: guards.requireScopes('reports:read') }, async (request) => ({
    reports: [],
    for: request.tokenPrincipal?.userId,
  }));

  // Outside Fastify's guards: `verifier.principal(request)` works with any request that has headers.
  app.get('/whoami', async (request, reply) => {
    try {
      const principal = await verifier.principal(request);
      return { user: principal?.username ?? null, scopes: [...(principal?.scopes ?? [])] };
    } catch {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer error="invalid_token"')
        .send({ detail: 'Could not validate credentials' });
    }
  });

  return app;
}
