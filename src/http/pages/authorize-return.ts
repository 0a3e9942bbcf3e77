/**
 * Pages whose form goes on to the OpenID Provider's `/authorize` (the sign-in page, the second step,
 * enrolment) may end, by the server's redirects, at the client's redirect URI: when the user's
 * consent is remembered or the client skips consent. Browsers check a form's redirects against the
 * CSP's `form-action`, so such a page's CSP allows that redirect URI, once it is known to be one the
 * client registered.
 */
import type { FastifyInstance } from 'fastify';
import { allowFormRedirectTo } from './consent-page.ts';

export interface AuthorizeReturnOptions {
  readonly basePath: string;
  readonly isClientRedirectUri: (clientId: string, redirectUri: string) => Promise<boolean>;
}

function returnPathOf(request: { query: unknown; body: unknown }): string | undefined {
  for (const source of [request.body, request.query]) {
    if (typeof source === 'object' && source !== null && 'return_to' in source) {
      const value = (source as { return_to: unknown }).return_to;
      if (typeof value === 'string') return value;
    }
  }
  return undefined;
}

/** The client and redirect URI of an `/authorize` return path, if the page carries one. */
function authorizeTarget(
  request: { query: unknown; body: unknown },
  basePath: string,
): { clientId: string; redirectUri: string } | undefined {
  const returnTo = returnPathOf(request);
  if (returnTo === undefined || !returnTo.startsWith('/')) return undefined;
  let url: URL;
  try {
    url = new URL(returnTo, 'http://gatehouse.invalid');
  } catch {
    return undefined;
  }
  const clientId = url.searchParams.get('client_id');
  const redirectUri = url.searchParams.get('redirect_uri');
  if (url.pathname !== `${basePath}/authorize` || clientId === null || redirectUri === null) return undefined;
  return { clientId, redirectUri };
}

export function installAuthorizeReturn(scope: FastifyInstance, options: AuthorizeReturnOptions): void {
  // A callback hook, so the API responses this skips at once cost no promise on the request path.
  scope.addHook('onSend', (request, reply, payload, done) => {
    const csp = reply.getHeader('content-security-policy');
    const page =
      typeof csp === 'string' &&
      csp.includes("form-action 'self'") &&
      String(reply.getHeader('content-type') ?? '').startsWith('text/html');
    const target = page ? authorizeTarget(request, options.basePath) : undefined;
    if (target === undefined) {
      done(null, payload);
      return;
    }
    options.isClientRedirectUri(target.clientId, target.redirectUri).then(
      (registered) => {
        if (registered)
          reply.header('content-security-policy', allowFormRedirectTo(csp as string, target.redirectUri));
        done(null, payload);
      },
      (error: Error) => done(error),
    );
  });
}
