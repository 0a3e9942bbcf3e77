/**
 * The browser redirect flow of external sign-in: `GET /oauth/{provider}/authorize` sends the
 * browser to the provider with a state cookie; `GET /oauth/{provider}/callback` checks the answer
 * and signs the browser in with a session cookie. A refusal lands on the login page (or the
 * account page, for a link) with a message, never a 500.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { GatehouseError } from '../../auth/errors.ts';
import type { ExternalSignInService } from '../../auth/external/sign-in.ts';
import { FLOW_TTL_SECONDS } from '../../auth/external/sign-in.ts';
import { cookieOf, isPlainHttpLocalhost, type SessionCookie } from '../cookies.ts';
import { sendDomainError } from '../errors.ts';
import { challengePage } from '../pages/enrollment-pages.ts';
import { noticeFor } from '../pages/external-notices.ts';
import { renderContinuePage } from '../pages/external-pages.ts';
import { type MfaPageContext, sendPasskeyPage } from '../pages/factor-pages.ts';
import { sendPage } from '../pages/html-form.ts';
import { safeReturnPath } from '../pages/negotiation.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail } from '../schemas.ts';
import { MfaChallengeBody } from './mfa.ts';

export interface FlowCookie {
  readonly name: string;
  set(reply: FastifyReply, handle: string): void;
  clear(reply: FastifyReply): void;
}

/** Single-use, 10 minutes, HttpOnly; `Lax` so the provider's top-level redirect back carries it. */
export function flowCookie(issuer: string): FlowCookie {
  const secure = !isPlainHttpLocalhost(issuer);
  const name = secure ? '__Host-gatehouse_oauth' : 'gatehouse_oauth';
  const attributes = { httpOnly: true, secure, sameSite: 'lax' as const, path: '/' };
  return {
    name,
    set: (reply, handle) => reply.setCookie(name, handle, { ...attributes, maxAge: FLOW_TTL_SECONDS }),
    clear: (reply) => reply.clearCookie(name, attributes),
  };
}

const ProviderParams = Type.Object({ provider: Type.String({ pattern: '^[a-z0-9]{1,40}$' }) });

export interface OauthRouteOptions {
  readonly externalSignIn: ExternalSignInService;
  readonly basePath: string;
  /** GATEHOUSE_PAGES: refusals land on the login page; without pages they are JSON. */
  readonly pages: boolean;
  readonly appName: string;
  readonly cookie: SessionCookie;
  readonly flowCookie: FlowCookie;
  /** The pages of second factors (GATEHOUSE_PAGES): an account with a factor goes on to its step. */
  readonly mfaPages?: MfaPageContext | undefined;
}

export const oauthRoutes: FastifyPluginAsyncTypebox<OauthRouteOptions> = async (app, options) => {
  const { externalSignIn, basePath, cookie, flowCookie: stateCookie } = options;
  const home = options.pages ? `${basePath}/account` : `${basePath}/`;

  /** A refusal: back to the page the person started from, with a message; JSON without pages. */
  function refuse(
    request: FastifyRequest,
    reply: FastifyReply,
    error: GatehouseError,
    linking: boolean,
  ): FastifyReply {
    request.log.info(
      { code: error.code, reason: (error as { reason?: string }).reason },
      'external sign-in refused',
    );
    if (!options.pages)
      return sendDomainError(error as Parameters<typeof sendDomainError>[0], request, reply);
    const page = linking ? 'account' : 'login';
    return reply
      .code(303)
      .header('location', `${basePath}/${page}?notice=${noticeFor(error)}`)
      .send(null);
  }

  app.get(
    '/oauth/:provider/authorize',
    {
      config: { gatehouse: { noStore: true, rateLimit: 'login' } },
      schema: {
        summary: 'Sign in with an external provider (browsers)',
        description:
          'Redirects to the provider (302) with `state`, PKCE S256 and, for OpenID Connect, `nonce`, kept for 10 minutes behind a single-use HttpOnly cookie. The provider sends the browser back to `/oauth/{provider}/callback`.',
        tags: ['sessions'],
        params: ProviderParams,
        querystring: Type.Object({ return_to: Type.Optional(Type.String()) }),
        response: { 302: Type.Null(), 404: ErrorDetail },
      },
    },
    async (request, reply) => {
      const { provider } = request.params;
      const returnTo = safeReturnPath(request.query.return_to);
      let started: { handle: string; authorizationUrl: string };
      try {
        started = await externalSignIn.start(provider, { returnTo });
      } catch (error) {
        if ((error as GatehouseError).code === 'EXTERNAL_SIGN_IN_FAILED') {
          return refuse(request, reply, error as GatehouseError, false);
        }
        throw error;
      }
      stateCookie.set(reply, started.handle);
      return reply.code(302).header('location', started.authorizationUrl).send(null);
    },
  );

  // A form post may not redirect to another site (CSP `form-action 'self'` covers redirects), so a
  // link started by the account page's form lands here first and goes on by `Refresh`.
  app.get(
    '/oauth/:provider/continue',
    { config: { gatehouse: { noStore: true } }, schema: { hide: true, params: ProviderParams } },
    async (request, reply) => {
      const { provider } = request.params;
      const url = await externalSignIn.authorizationUrlOf(provider, cookieOf(request, stateCookie.name));
      if (url === undefined)
        return reply.code(303).header('location', `${basePath}/account?notice=external-failed`).send(null);
      const name = externalSignIn.providers().find((p) => p.name === provider)?.displayName ?? provider;
      reply.header('refresh', `0; url=${url}`);
      return sendPage(reply, 200, renderContinuePage(options.appName, name, url));
    },
  );

  app.get(
    '/oauth/:provider/callback',
    {
      config: { gatehouse: { noStore: true, rateLimit: 'login' } },
      schema: {
        summary: 'Where the provider sends the browser back',
        description:
          'Checks the state cookie, `state`, `iss` (RFC 9207), PKCE and the ID token, then signs in with a session cookie and redirects (303) to `return_to`. A refusal redirects to `/login?notice=…` (or `/account`, for a link). An account with a second factor gets no session yet: the hosted pages show the second step (as after a password, amr then `ext` and the factor), or enrolment when GATEHOUSE_MFA requires a factor it lacks; without pages the answer is 403 `mfa_required` (or `mfa_enrollment_required`) as for `POST /login`.',
        tags: ['sessions'],
        params: ProviderParams,
        response: {
          303: Type.Null(),
          400: ErrorDetail,
          403: MfaChallengeBody,
          404: ErrorDetail,
          409: ErrorDetail,
        },
      },
    },
    async (request, reply) => {
      const handle = cookieOf(request, stateCookie.name);
      stateCookie.clear(reply);
      const query = new URLSearchParams(request.url.split('?')[1] ?? '');
      const outcome = await externalSignIn.finish(
        request.params.provider,
        handle,
        query,
        requestContext(request),
      );
      if (outcome.kind === 'failed') return refuse(request, reply, outcome.error, outcome.linking);
      if (outcome.kind === 'second-step') {
        // The same second step (or enrolment) as after a password: a code, a recovery code or a passkey.
        const page = options.mfaPages && challengePage(options.mfaPages, outcome.challenge, outcome.returnTo);
        if (page === undefined) return sendDomainError(outcome.challenge, request, reply);
        return sendPasskeyPage(reply, 200, page);
      }
      if (outcome.kind === 'linked') {
        return reply.code(303).header('location', `${basePath}/account?notice=identity-linked`).send(null);
      }
      reply.setCookie(cookie.name, outcome.login.cookieValue, cookie.options);
      return reply
        .code(303)
        .header('location', outcome.returnTo ?? home)
        .send(null);
    },
  );
};
