/**
 * A service that only checks Gatehouse tokens: no database, no Gatehouse configuration but the
 * issuer's URL. It fetches the issuer's JWKS and follows key rotation by itself.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { createVerifier } from 'gatehouse/verify';

export interface ResourceServerOptions {
  /** The Gatehouse server's issuer URL, e.g. http://localhost:8000. */
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

  // Outside Fastify's guards: `verifier.verifyRequest(headers)` works with any framework's headers
  // and gives the server's refusal ready to send.
  app.get('/whoami', async (request, reply) => {
    const verdict = await verifier.verifyRequest(request.headers, { optional: true });
    if (!verdict.ok) return reply.code(verdict.status).headers(verdict.headers).send(verdict.body);
    return { user: verdict.principal?.username ?? null, scopes: [...(verdict.principal?.scopes ?? [])] };
  });

  return app;
}
