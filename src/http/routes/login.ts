import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toPublicUser } from '../../auth/accounts.ts';
import type { SessionService } from '../../auth/sessions.ts';
import { csrfTokenFor, type SessionCookie } from '../cookies.ts';
import { checkAnonymousWrite } from '../guards.ts';
import { challengePage } from '../pages/enrollment-pages.ts';
import { type MfaPageContext, sendPasskeyPage } from '../pages/factor-pages.ts';
import { prefersHtml } from '../pages/negotiation.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, PublicUserSchema, ValidationErrorBody } from '../schemas.ts';
import { MfaChallengeBody } from './mfa.ts';

const LoginBody = Type.Object({
  username: Type.String({ maxLength: 320, description: 'Username or email' }),
  password: Type.String({ maxLength: 1024 }),
});

const LoginResponse = Type.Intersect([
  PublicUserSchema,
  Type.Object({
    csrf_token: Type.String({ description: 'Send as X-CSRF-Token on state-changing requests' }),
  }),
]);

export interface LoginRouteOptions {
  readonly sessions: SessionService;
  readonly cookie: SessionCookie;
  readonly trustedOrigins: readonly string[];
  readonly forms?: PageForms | undefined;
  /** The second step's page, when pages are on. */
  readonly mfaPages?: MfaPageContext | undefined;
}

export const loginRoutes: FastifyPluginAsyncTypebox<LoginRouteOptions> = async (app, options) => {
  const { sessions, cookie } = options;
  app.post(
    '/login',
    {
      config: { gatehouse: { noStore: true, rateLimit: 'login', htmlForm: options.forms?.login } },
      schema: {
        summary: 'Log in with a session cookie (browsers)',
        description:
          'Form or JSON `{username, password}`. Sets the HttpOnly session cookie and returns the user with the `csrf_token` to send as `X-CSRF-Token` on state-changing requests.',
        tags: ['sessions'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: LoginBody,
        response: {
          200: LoginResponse,
          400: ErrorDetail,
          401: ErrorDetail,
          403: MfaChallengeBody,
          422: ValidationErrorBody,
        },
      },
    },
    async (request, reply) => {
      // Login CSRF: a cross-site page must not log the browser into an attacker's account.
      checkAnonymousWrite(request, options.trustedOrigins);
      const mfaPages = options.mfaPages;
      const signedIn = await sessions
        .loginWithCookie(request.body.username, request.body.password, requestContext(request))
        .catch((error: unknown) => {
          // A browser's form goes on to the second step's page (or enrolment's) instead of the 403.
          const page =
            mfaPages !== undefined && prefersHtml(request)
              ? challengePage(mfaPages, error, request.formPost?.returnTo)
              : undefined;
          if (page === undefined) throw error;
          return sendPasskeyPage(reply, 200, page);
        });
      if (!('cookieValue' in signedIn)) return signedIn;
      const { user, cookieValue } = signedIn;
      reply.setCookie(cookie.name, cookieValue, cookie.options);
      return { ...toPublicUser(user), csrf_token: csrfTokenFor(cookieValue) };
    },
  );
};
