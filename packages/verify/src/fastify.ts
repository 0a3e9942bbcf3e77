/**
 * `@gatehouse/verify/fastify`: the verifier's guards typed as Fastify `onRequest` hooks, and
 * `request.tokenPrincipal` on Fastify's request type.
 *
 * @example
 * import { createVerifier } from '@gatehouse/verify';
 * import { fastifyGuards } from '@gatehouse/verify/fastify';
 * const guards = fastifyGuards(createVerifier({ issuer: 'https://auth.example.com' }));
 * app.get('/reports', { onRequest: guards.requireScopes('reports:read') }, async (request) => ({
 *   for: request.tokenPrincipal?.username,
 * }));
 */
import type { onRequestAsyncHookHandler } from 'fastify';
import type { TokenPrincipal } from './principal.ts';
import type { Guards } from './requirements.ts';
import type { Verifier } from './verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the verifier's guards: the caller, or null on an `optionalUser` route without a token. */
    tokenPrincipal?: TokenPrincipal | null;
  }
}

/** `verifier.guards`, on Fastify's types: each refuses as the server does (401/403 with `{ detail }`). */
export function fastifyGuards(verifier: Verifier): Guards<onRequestAsyncHookHandler> {
  return verifier.guards;
}
