/**
 * `POST /reauthenticate` (RFC 9470 step-up): a signed-in user proves the password again, which
 * renews the session's `auth_time` so actions that need a recent sign-in go through.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AccountService } from '../../auth/accounts.ts';
import { NotAuthenticatedError } from '../../auth/errors.ts';
import type { SessionService } from '../../auth/sessions.ts';
import { BEARER_SECURITY, type Guards, principalOf } from '../guards.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, ValidationErrorBody } from '../schemas.ts';

const Reauthenticated = Type.Object({
  access_token: Type.String({ description: 'Carries `auth_time`: now' }),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.Optional(
    Type.String({ description: 'Bearer sessions: a new refresh token of the same session' }),
  ),
  scope: Type.String({ description: 'The same scopes the request had, space-separated' }),
});

export interface ReauthenticateRouteOptions {
  readonly sessions: SessionService;
  readonly accounts: AccountService;
  readonly guards: Guards;
  readonly forms?: PageForms | undefined;
}

export const reauthenticateRoutes: FastifyPluginAsyncTypebox<ReauthenticateRouteOptions> = async (
  app,
  options,
) => {
  const { sessions, accounts } = options;
  app.post(
    '/reauthenticate',
    {
      onRequest: options.guards.requireUser,
      config: { gatehouse: { noStore: true, rateLimit: 'login', htmlForm: options.forms?.reauthenticate } },
      schema: {
        summary: 'Prove your password again (step-up, RFC 9470)',
        description:
          "With a bearer token or the session cookie: renews the session's `auth_time`, so for `GATEHOUSE_REAUTH_MAX_AGE` the actions that answer `REAUTH_REQUIRED` go through, and returns a fresh access token (a bearer session also gets a new refresh token; the session cookie keeps working). A wrong password is `400 INCORRECT_PASSWORD` and counts as a failed login. An API key cannot reauthenticate.",
        tags: ['auth'],
        security: BEARER_SECURITY,
        body: Type.Object(
          {
            password: Type.String({ maxLength: 1024 }),
            // The hosted form sends it so password managers know whose password this is.
            username: Type.Optional(Type.String({ maxLength: 320, description: 'Ignored' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Reauthenticated,
          400: ErrorDetail,
          401: ErrorDetail,
          403: ErrorDetail,
          422: ValidationErrorBody,
          429: ErrorDetail,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      if (principal.sessionId === undefined) {
        throw new NotAuthenticatedError(
          'Bearer',
          'Sign in with a password: an API key cannot reauthenticate',
        );
      }
      const result = await sessions.reauthenticate(
        await accounts.getUserOrThrow(principal.user.id),
        principal.sessionId,
        request.body.password,
        { scope: [...principal.scopes].join(' '), clientId: principal.claims?.client_id },
        requestContext(request),
      );
      return {
        access_token: result.accessToken,
        token_type: 'bearer' as const,
        expires_in: result.expiresInSeconds,
        ...(result.refreshToken === undefined ? {} : { refresh_token: result.refreshToken }),
        scope: result.scope,
      };
    },
  );
};
