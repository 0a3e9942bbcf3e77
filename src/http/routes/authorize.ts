/**
 * The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2): `GET /authorize`
 * (a `POST` is sent on as the same `GET`), and the consent form's post. The browser's Gatehouse
 * session is its cookie; without one it is sent to `/login` and back.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AuthorizationRequestError } from '../../auth/errors.ts';
import type { AuthorizeOutcome, BrowserSession, OpenIdProvider } from '../../auth/oidc/provider.ts';
import { type Guards, principalOf } from '../guards.ts';
import { consentCsp, renderAuthorizationErrorPage, renderConsentPage } from '../pages/consent-page.ts';
import type { HtmlForm } from '../pages/html-form.ts';
import { sendPage, setPageHeaders } from '../pages/html-form.ts';
import { prefersHtml } from '../pages/negotiation.ts';
import { requestContext } from '../request-context.ts';

const Parameters = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 4096 }));

export interface AuthorizeRouteOptions {
  readonly oidc: OpenIdProvider;
  readonly guards: Guards;
  readonly basePath: string;
  readonly appName: string;
}

function browserOf(request: FastifyRequest): BrowserSession | undefined {
  const principal = request.principal;
  if (principal?.method !== 'cookie' || principal.sessionId === undefined) return undefined;
  return {
    userId: principal.user.id,
    sessionId: principal.sessionId,
    authTimeMs: principal.authTimeMs ?? 0,
    amr: principal.amr,
  };
}

export const authorizeRoutes: FastifyPluginAsyncTypebox<AuthorizeRouteOptions> = async (app, options) => {
  const { oidc, guards, basePath, appName } = options;

  async function answer(request: FastifyRequest, reply: FastifyReply, outcome: AuthorizeOutcome) {
    if (outcome.kind === 'redirect') return reply.code(303).header('location', outcome.location).send();
    if (outcome.kind === 'login') {
      const returnTo = `${basePath}/authorize?${new URLSearchParams(outcome.returnParameters)}`;
      const query = new URLSearchParams({ return_to: returnTo });
      if (outcome.loginHint !== undefined) query.set('login_hint', outcome.loginHint);
      return reply.code(303).header('location', `${basePath}/login?${query}`).send();
    }
    const principal = principalOf(request);
    setPageHeaders(reply).header('content-security-policy', consentCsp(outcome.redirectUri));
    return reply.code(200).send(
      renderConsentPage({
        appName,
        clientName: outcome.clientName,
        scopes: outcome.scopes,
        parameters: outcome.parameters,
        csrfToken: principal.csrfToken ?? '',
        signedInAs: principal.user.username,
      }),
    );
  }

  async function refuse(request: FastifyRequest, reply: FastifyReply, error: unknown) {
    if (!(error instanceof AuthorizationRequestError) || !prefersHtml(request)) throw error;
    return sendPage(reply, 400, renderAuthorizationErrorPage(appName, error.message));
  }

  const authorizeRequest = async (
    request: FastifyRequest,
    reply: FastifyReply,
    parameters: Record<string, string>,
  ) => {
    try {
      const outcome = await oidc.authorize(parameters, browserOf(request), requestContext(request));
      return await answer(request, reply, outcome);
    } catch (error) {
      return refuse(request, reply, error);
    }
  };
  const schema = {
    summary: 'OpenID Connect authorization endpoint (code flow with PKCE S256)',
    description:
      'Signs the browser in (hosted pages), asks for consent, then redirects to the client with `code`, `state` and `iss`. Errors before the redirect URI is known answer 400 here.',
    tags: ['openid'],
  };
  app.get(
    '/authorize',
    {
      onRequest: guards.optionalUser,
      config: { gatehouse: { noStore: true } },
      schema: { ...schema, querystring: Parameters },
    },
    async (request, reply) => authorizeRequest(request, reply, request.query),
  );
  // A form-posted authorization request (Core §3.1.2.1) is the same request as a GET: the
  // browser is sent on to it, where its session cookie counts as for any GET (a cross-site post
  // carries no CSRF token, and needs none to do what the GET does).
  app.post(
    '/authorize',
    {
      config: { gatehouse: { noStore: true } },
      schema: { ...schema, hide: true, consumes: ['application/x-www-form-urlencoded'], body: Parameters },
    },
    async (request, reply) => {
      if (request.body.client_id === undefined) {
        return refuse(
          request,
          reply,
          new AuthorizationRequestError('invalid_request', 'client_id is required'),
        );
      }
      const query = new URLSearchParams(request.body);
      return reply.code(303).header('location', `${basePath}/authorize?${query}`).send();
    },
  );

  const consentForm: HtmlForm = {
    render: (_request, failure) =>
      renderAuthorizationErrorPage(appName, failure.summary.join(' ') || 'Start again from the app.'),
    successLocation: () => `${basePath}/account`,
  };
  app.post(
    '/authorize/consent',
    {
      onRequest: guards.requireUser,
      config: { gatehouse: { htmlForm: consentForm, noStore: true } },
      schema: { hide: true, consumes: ['application/x-www-form-urlencoded'], body: Parameters },
    },
    async (request, reply) => {
      const { decision, ...parameters } = request.body;
      const browser = browserOf(request);
      if (browser === undefined)
        return sendPage(reply, 401, renderAuthorizationErrorPage(appName, 'Sign in first.'));
      try {
        const outcome = await oidc.decideConsent(
          parameters,
          browser,
          decision === 'allow',
          requestContext(request),
        );
        return await answer(request, reply, outcome);
      } catch (error) {
        return refuse(request, reply, error);
      }
    },
  );
};
