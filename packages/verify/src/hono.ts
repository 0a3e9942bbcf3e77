/**
 * `@gatehouse/verify/hono`: the verifier's guards as Hono 4 middleware. A passed request has
 * `c.get('tokenPrincipal')`; a refused one is answered as the server does: 401/403,
 * `WWW-Authenticate`, `{"detail": …}`. Runs wherever Hono and jose do (Node, Bun, Deno, workers).
 *
 * @example
 * import { createVerifier } from '@gatehouse/verify';
 * import { honoGuards } from '@gatehouse/verify/hono';
 * const guards = honoGuards(createVerifier({ issuer: 'https://auth.example.com' }));
 * app.get('/reports', guards.requireScopes('reports:read'), (c) =>
 *   c.json({ for: c.get('tokenPrincipal')?.username }),
 * );
 */
import type { MiddlewareHandler } from 'hono';
import type { TokenPrincipal } from './principal.ts';
import { type Guards, guardsOf } from './requirements.ts';
import type { Verifier } from './verifier.ts';

/** The Hono environment the guards add: `c.get('tokenPrincipal')`. */
export interface TokenPrincipalEnv {
  Variables: { tokenPrincipal: TokenPrincipal | null };
}

export function honoGuards(verifier: Verifier): Guards<MiddlewareHandler<TokenPrincipalEnv>> {
  return guardsOf<MiddlewareHandler<TokenPrincipalEnv>>((requirement) => async (c, next) => {
    const verdict = await verifier.verifyRequest(c.req.raw.headers, requirement);
    if (!verdict.ok) {
      return c.body(JSON.stringify(verdict.body), verdict.status, { ...verdict.headers });
    }
    c.set('tokenPrincipal', verdict.principal);
    await next();
    return undefined;
  });
}
