/**
 * `@gatehouse/verify/express`: the verifier's guards as Express 5 middleware (plain Node
 * `(req, res, next)`, so Connect and `node:http` servers can use them too). A passed request gets
 * `req.tokenPrincipal`; a refused one is answered as the server does: 401/403, `WWW-Authenticate`,
 * `{"detail": …}`.
 *
 * @example
 * import { createVerifier } from '@gatehouse/verify';
 * import { expressGuards } from '@gatehouse/verify/express';
 * const guards = expressGuards(createVerifier({ issuer: 'https://auth.example.com' }));
 * app.get('/reports', guards.requireScopes('reports:read'), (req, res) => {
 *   res.json({ for: req.tokenPrincipal?.username });
 * });
 */
import type { HeadersLike, TokenPrincipal } from './principal.ts';
import { type Guards, guardsOf } from './requirements.ts';
import type { Verifier } from './verifier.ts';

declare global {
  namespace Express {
    interface Request {
      /** Set by the verifier's guards: the caller, or null on an `optionalUser` route without a token. */
      tokenPrincipal?: TokenPrincipal | null;
    }
  }
}

/** The parts of Node's `IncomingMessage` and `ServerResponse` the middleware uses. */
export interface MiddlewareRequest {
  readonly headers: HeadersLike;
  tokenPrincipal?: TokenPrincipal | null;
}
export interface MiddlewareResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}
export type Middleware = (
  req: MiddlewareRequest,
  res: MiddlewareResponse,
  next: (error?: unknown) => void,
) => Promise<void>;

export function expressGuards(verifier: Verifier): Guards<Middleware> {
  return guardsOf<Middleware>((requirement) => async (req, res, next) => {
    let verdict: Awaited<ReturnType<Verifier['verifyRequest']>>;
    try {
      verdict = await verifier.verifyRequest(req.headers, requirement);
    } catch (error) {
      next(error);
      return;
    }
    if (verdict.ok) {
      req.tokenPrincipal = verdict.principal;
      next();
      return;
    }
    res.statusCode = verdict.status;
    for (const [name, value] of Object.entries(verdict.headers)) res.setHeader(name, value);
    res.end(JSON.stringify(verdict.body));
  });
}
