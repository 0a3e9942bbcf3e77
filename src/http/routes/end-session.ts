/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `GET /logout` is the
 * `end_session_endpoint`, and `POST /logout/confirm` the confirmation page's form. `POST /logout`
 * stays Gatehouse's own logout (sessions.ts); a relying party's cross-site form post to it is
 * sent on to `POST /logout/rp` and from there to the same `GET`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import type { EndSessionOutcome, OpenIdProvider } from '../../auth/oidc/provider.ts';
import { clearSessionCookie, cookieOf, type SessionCookie } from '../cookies.ts';
import { type Guards, principalOf } from '../guards.ts';
import { consentCsp } from '../pages/consent-page.ts';
import { type HtmlForm, sendPage, setPageHeaders } from '../pages/html-form.ts';
import { renderLogoutConfirmPage, renderLogoutFailedPage } from '../pages/logout-page.ts';
import { isFormPost } from '../pages/negotiation.ts';
import { requestContext } from '../request-context.ts';
import { browserOf } from './authorize.ts';

const Parameters = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 8192 }));
const value = Type.Optional(Type.String({ maxLength: 8192 }));
/** A form-posted logout request: the parameters of RP-Initiated Logout §2, at least one. */
const PostedLogout = Type.Object(
  {
    id_token_hint: value,
    logout_hint: value,
    client_id: value,
    post_logout_redirect_uri: value,
    state: value,
    ui_locales: value,
  },
  { additionalProperties: false, minProperties: 1 },
);

/**
 * For `POST /logout`: a relying party's form post (§2 lets the RP use POST) comes from another
 * site, without credentials (the SameSite=Lax cookie stays behind): a request Gatehouse's own
 * logout refuses, so sending exactly those on changes nothing it accepts. A 307 keeps the method
 * and the form, which `POST /logout/rp` turns into the `GET`, where the cookie comes along.
 */
export function relyingPartyLogoutPost(basePath: string, cookie: SessionCookie): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const site = request.headers['sec-fetch-site'];
    if (request.headers.authorization !== undefined || !isFormPost(request)) return;
    if ((site !== 'cross-site' && site !== 'same-site') || cookieOf(request, cookie.name) !== undefined)
      return;
    return reply.code(307).header('location', `${basePath}/logout/rp`).send();
  };
}

export interface EndSessionRouteOptions {
  readonly oidc: OpenIdProvider;
  readonly guards: Guards;
  readonly cookie: SessionCookie;
  readonly basePath: string;
  readonly appName: string;
}

export const endSessionRoutes: FastifyPluginAsyncTypebox<EndSessionRouteOptions> = async (app, options) => {
  const { oidc, guards, cookie, basePath, appName } = options;

  async function answer(request: FastifyRequest, reply: FastifyReply, outcome: EndSessionOutcome) {
    if (outcome.kind === 'done') {
      clearSessionCookie(reply, cookie);
      const location = outcome.location ?? `${basePath}/login?notice=signed-out`;
      return reply.code(303).header('location', location).send();
    }
    const principal = principalOf(request);
    const redirectUri = outcome.parameters.post_logout_redirect_uri;
    // The form's redirect goes to the client; browsers check `form-action` on it too.
    setPageHeaders(reply);
    if (redirectUri !== undefined) reply.header('content-security-policy', consentCsp(redirectUri));
    return reply.code(200).send(
      renderLogoutConfirmPage({
        appName,
        clientName: outcome.clientName,
        parameters: outcome.parameters,
        csrfToken: principal.csrfToken ?? '',
        signedInAs: principal.user.username,
      }),
    );
  }

  app.get(
    '/logout',
    {
      onRequest: guards.optionalUser,
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'OpenID Connect RP-initiated logout (end_session_endpoint)',
        description:
          'Ends the browser session when `id_token_hint` is an ID token of it; otherwise asks the user first. Then redirects to `post_logout_redirect_uri` with `state` when the client (from the hint or `client_id`) registered exactly that URI, else to the sign-in page. Its client sessions end, and clients with a `backchannel_logout_uri` get a logout token.',
        tags: ['openid'],
        querystring: Parameters,
      },
    },
    async (request, reply) =>
      answer(
        request,
        reply,
        await oidc.endSession(request.query, browserOf(request), requestContext(request)),
      ),
  );

  // The form-posted logout request (§2) is the same request as a GET, as for `POST /authorize`.
  app.post(
    '/logout/rp',
    { schema: { hide: true, consumes: ['application/x-www-form-urlencoded'], body: PostedLogout } },
    async (request, reply) => {
      const query = new URLSearchParams();
      for (const [name, given] of Object.entries(request.body))
        if (given !== undefined) query.set(name, given);
      return reply.code(303).header('location', `${basePath}/logout?${query}`).send();
    },
  );

  const confirmForm: HtmlForm = {
    render: () => renderLogoutFailedPage(appName, 'You are already signed out.'),
    successLocation: () => `${basePath}/login?notice=signed-out`,
  };
  app.post(
    '/logout/confirm',
    {
      onRequest: guards.requireUser,
      config: { gatehouse: { htmlForm: confirmForm, noStore: true } },
      schema: { hide: true, consumes: ['application/x-www-form-urlencoded'], body: Parameters },
    },
    async (request, reply) => {
      const browser = browserOf(request);
      if (browser === undefined)
        return sendPage(reply, 400, renderLogoutFailedPage(appName, 'Sign out from the browser.'));
      return answer(
        reply.request,
        reply,
        await oidc.confirmEndSession(request.body, browser, requestContext(request)),
      );
    },
  );
};
