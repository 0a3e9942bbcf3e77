/**
 * `POST /reauthenticate` (RFC 9470 step-up): a signed-in user proves the password (with a code of
 * a second factor) or a passkey again, which renews the session's `auth_time` so actions that need
 * a recent sign-in go through.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AccountService } from '../../auth/accounts.ts';
import { NotAuthenticatedError } from '../../auth/errors.ts';
import type { FactorService } from '../../auth/factors/factors.ts';
import type { SessionService } from '../../auth/sessions.ts';
import { HttpClientError } from '../errors.ts';
import { BEARER_SECURITY, type Guards, principalOf } from '../guards.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, ValidationErrorBody } from '../schemas.ts';
import { need, parseAssertion } from './mfa.ts';

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
  /** Proves a second factor given with the password (`otp` or `recovery_code`), or a passkey alone. */
  readonly factors: Pick<FactorService, 'proveCode' | 'stepUpOptions' | 'proveStepUp'>;
  readonly guards: Guards;
  readonly forms?: PageForms | undefined;
}

export const reauthenticateRoutes: FastifyPluginAsyncTypebox<ReauthenticateRouteOptions> = async (
  app,
  options,
) => {
  const { sessions, accounts, factors } = options;
  /** The signed-in session of the request: an API key has none to renew. */
  const sessionOf = (request: FastifyRequest) => {
    const principal = principalOf(request);
    if (principal.sessionId === undefined) {
      throw new NotAuthenticatedError('Bearer', 'Sign in with a password: an API key cannot reauthenticate');
    }
    return { principal, sessionId: principal.sessionId };
  };

  app.post(
    '/reauthenticate/webauthn/options',
    {
      onRequest: options.guards.requireUser,
      config: { gatehouse: { noStore: true, rateLimit: 'login' } },
      schema: {
        summary: 'Step-up with a passkey: WebAuthn request options',
        description:
          'Options allowing your passkeys, user verification required; the challenge lives 5 minutes and belongs to this session. Sign them with `navigator.credentials.get()` and send the response as `assertion` to `POST /reauthenticate`. 404 `FACTOR_NOT_FOUND` when you have no passkey.',
        tags: ['auth'],
        security: BEARER_SECURITY,
        response: {
          200: Type.Object(
            {},
            { additionalProperties: true, description: 'PublicKeyCredentialRequestOptionsJSON' },
          ),
          401: ErrorDetail,
          403: ErrorDetail,
          404: ErrorDetail,
          429: ErrorDetail,
        },
      },
    },
    async (request) => {
      const { principal, sessionId } = sessionOf(request);
      return factors.stepUpOptions(await accounts.getUserOrThrow(principal.user.id), sessionId);
    },
  );

  app.post(
    '/reauthenticate',
    {
      onRequest: options.guards.requireUser,
      config: { gatehouse: { noStore: true, rateLimit: 'login', htmlForm: options.forms?.reauthenticate } },
      schema: {
        summary: 'Prove your password or a passkey again (step-up, RFC 9470)',
        description:
          "With a bearer token or the session cookie: renews the session's `auth_time`, so for `GATEHOUSE_REAUTH_MAX_AGE` the actions that answer `REAUTH_REQUIRED` go through, and returns a fresh access token (a bearer session also gets a new refresh token; the session cookie keeps working). A wrong password is `400 INCORRECT_PASSWORD` and counts as a failed login. Instead of the password, a passkey: `assertion` over the challenge of `POST /reauthenticate/webauthn/options` (user verification required; the session then counts as MFA, amr `hwk`/`swk`, `user`, `mfa`); a failed one is `400 WEBAUTHN_FAILED`. An API key cannot reauthenticate.",
        tags: ['auth'],
        security: BEARER_SECURITY,
        body: Type.Object(
          {
            password: Type.Optional(
              Type.String({ maxLength: 1024, description: 'Required unless `assertion` is given' }),
            ),
            assertion: Type.Optional(
              Type.String({
                maxLength: 20_000,
                description:
                  'Instead of the password: a passkey (AuthenticationResponseJSON as JSON text) over the challenge of `POST /reauthenticate/webauthn/options`; with user verification it counts as MFA',
              }),
            ),
            // The hosted form sends it so password managers know whose password this is.
            username: Type.Optional(Type.String({ maxLength: 320, description: 'Ignored' })),
            otp: Type.Optional(
              Type.String({
                maxLength: 20,
                description: 'A second factor too: the session then counts as MFA',
              }),
            ),
            recovery_code: Type.Optional(Type.String({ maxLength: 40, description: 'Instead of `otp`' })),
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
      const { principal, sessionId } = sessionOf(request);
      const { password, otp, recovery_code: recoveryCode } = request.body;
      const ctx = requestContext(request);
      const assertion =
        request.body.assertion === undefined ? undefined : parseAssertion(request.body.assertion);
      if (assertion !== undefined && (password ?? otp ?? recoveryCode) !== undefined) {
        throw new HttpClientError(422, 'A passkey proves it alone', [
          {
            loc: ['body', 'assertion'],
            msg: 'send it without password, otp or recovery_code',
            type: 'value_error',
          },
        ]);
      }
      const result = await sessions.reauthenticate(
        await accounts.getUserOrThrow(principal.user.id),
        sessionId,
        assertion === undefined ? need(password, 'password') : undefined,
        { scope: [...principal.scopes].join(' '), clientId: principal.claims?.client_id },
        ctx,
        assertion !== undefined
          ? (user) => factors.proveStepUp(user, sessionId, assertion, ctx)
          : otp === undefined && recoveryCode === undefined
            ? undefined
            : (user) => factors.proveCode(user, { otp, recoveryCode }, ctx),
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
