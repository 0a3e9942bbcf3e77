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

export function installAuthorizeReturn(scope: FastifyInstance, options: AuthorizeReturnOptions): void {
  scope.addHook('onSend', async (request, reply, payload) => {
    const csp = reply.getHeader('content-security-policy');
    if (typeof csp !== 'string' || !csp.includes("form-action 'self'")) return payload;
    if (!String(reply.getHeader('content-type') ?? '').startsWith('text/html')) return payload;
    const returnTo = returnPathOf(request);
    if (returnTo === undefined || !returnTo.startsWith('/')) return payload;
    let url: URL;
    try {
      url = new URL(returnTo, 'http://gatehouse.invalid');
    } catch {
      return payload;
    }
    const clientId = url.searchParams.get('client_id');
    const redirectUri = url.searchParams.get('redirect_uri');
    if (url.pathname !== `${options.basePath}/authorize` || clientId === null || redirectUri === null) {
      return payload;
    }
    if (await options.isClientRedirectUri(clientId, redirectUri)) {
      reply.header('content-security-policy', allowFormRedirectTo(csp, redirectUri));
    }
    return payload;
  });
}
