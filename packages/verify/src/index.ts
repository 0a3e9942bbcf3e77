/**
 * `@gatehouse/verify`: for services that only check Gatehouse tokens. No database: keys come from
 * the issuer's JWKS. What a resource server cannot know without the database — a logout or a
 * disabled user — reaches it when the access token expires (15 minutes by default).
 *
 * Framework adapters are subpaths, so this module loads none: `@gatehouse/verify/fastify`,
 * `@gatehouse/verify/express`, `@gatehouse/verify/hono`.
 *
 * @example
 * import { createVerifier } from '@gatehouse/verify';
 * const verifier = createVerifier({ issuer: 'https://auth.example.com' });
 * app.get('/reports', { onRequest: verifier.guards.requireScopes('reports:read') }, handler); // Fastify
 * const verdict = await verifier.verifyRequest(headers); // any framework: { ok, principal } or a refusal
 */
export { VerifyError, type VerifyErrorCode } from './errors.ts';
export type { HeadersLike, TokenPrincipal, VerifiedClaims } from './principal.ts';
export type { Guards, RecentAuthOptions, Requirement } from './requirements.ts';
export {
  createVerifier,
  type Hook,
  type HookReply,
  type HookRequest,
  type RequestVerdict,
  type Verifier,
  type VerifierGuards,
  type VerifierOptions,
} from './verifier.ts';
