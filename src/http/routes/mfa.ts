/**
 * The second sign-in step: its `POST /token` grants (RFC 6749 §4.5 extension grants) and
 * `POST /login/mfa` for cookie sessions. The first step answered 403 `mfa_required` with an
 * `mfa_token`; these finish exactly that first step.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toPublicUser } from '../../auth/accounts.ts';
import type { FactorService } from '../../auth/factors/factors.ts';
import type { FirstStep } from '../../auth/factors/mfa-tokens.ts';
import type { RequestContext } from '../../auth/request-context.ts';
import type { SessionService, TokenPair } from '../../auth/sessions.ts';
import { csrfTokenFor, type SessionCookie } from '../cookies.ts';
import { HttpClientError } from '../errors.ts';
import { checkAnonymousWrite } from '../guards.ts';
import type { HtmlForm } from '../pages/html-form.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, PublicUserSchema, ValidationErrorBody } from '../schemas.ts';

export const MFA_OTP_GRANT = 'urn:gatehouse:grant-type:mfa-otp';
export const MFA_RECOVERY_CODE_GRANT = 'urn:gatehouse:grant-type:mfa-recovery-code';
export const MFA_WEBAUTHN_GRANT = 'urn:gatehouse:grant-type:mfa-webauthn';
export const WEBAUTHN_GRANT = 'urn:gatehouse:grant-type:webauthn';

/** 403 of a first step: `mfa_required` (with `mfa_token`) or `mfa_enrollment_required`. */
export const MfaChallengeBody = Type.Object(
  {
    detail: Type.String(),
    code: Type.Optional(Type.String()),
    error: Type.Optional(Type.String({ description: '`mfa_required` or `mfa_enrollment_required`' })),
    error_description: Type.Optional(Type.String()),
    mfa_token: Type.Optional(
      Type.String({ description: 'Single use, 5 minutes: send it to the second step' }),
    ),
    factors: Type.Optional(
      Type.Array(
        Type.Object({
          id: Type.String(),
          type: Type.Union([Type.Literal('totp'), Type.Literal('webauthn')]),
          name: Type.String(),
        }),
      ),
    ),
    enrollment_token: Type.Optional(
      Type.String({ description: 'Bearer token that can only enrol a factor (`/users/me/factors…`)' }),
    ),
  },
  { description: 'A second factor is required (or must be set up) before a session is made' },
);

interface SecondStepForm {
  scope?: string;
  client_id?: string;
  mfa_token?: string;
  otp?: string;
  recovery_code?: string;
  assertion?: string;
}

/** A field the body must have (422 `Field required` otherwise). */
export function need(value: string | undefined, field: string): string {
  if (value === undefined) {
    throw new HttpClientError(422, 'Field required', [
      { loc: ['body', field], msg: 'Field required', type: 'missing' },
    ]);
  }
  return value;
}

/** A WebAuthn response as the `assertion` field carries it: JSON, an object. */
export function parseAssertion(value: string | undefined, field = 'assertion'): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(need(value, field));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new HttpClientError(422, 'Invalid assertion', [
    { loc: ['body', field], msg: 'must be a WebAuthn response as JSON', type: 'json' },
  ]);
}

/** The provider of a first step that was an external sign-in, for the session the second step makes. */
export const externalOf = (step: FirstStep) =>
  step.provider === undefined ? undefined : { provider: step.provider };

/** The token pair of a second-step grant of `POST /token`, or undefined when `grantType` is none. */
export async function secondStepGrant(
  services: { sessions: SessionService; factors: FactorService },
  grantType: string,
  body: SecondStepForm,
  ctx: RequestContext,
): Promise<TokenPair | undefined> {
  const { factors, sessions } = services;
  let done: Awaited<ReturnType<typeof factors.completeWithCode>>;
  if (grantType === MFA_OTP_GRANT || grantType === MFA_RECOVERY_CODE_GRANT) {
    const mfaToken = need(body.mfa_token, 'mfa_token');
    const proof =
      grantType === MFA_OTP_GRANT
        ? { otp: need(body.otp, 'otp') }
        : { recoveryCode: need(body.recovery_code, 'recovery_code') };
    done = await factors.completeWithCode(mfaToken, 'token', proof, ctx);
  } else if (grantType === MFA_WEBAUTHN_GRANT) {
    const mfaToken = need(body.mfa_token, 'mfa_token');
    done = await factors.completeWithPasskey(mfaToken, 'token', parseAssertion(body.assertion), ctx);
  } else if (grantType === WEBAUTHN_GRANT) {
    const signedIn = await factors.signInWithPasskey(parseAssertion(body.assertion), ctx);
    const scope = sessions.grantScope(signedIn.user, body.scope);
    return sessions.startTokenSession(signedIn.user, scope, body.client_id, ctx, 'webauthn', signedIn.amr);
  } else {
    return undefined;
  }
  return sessions.startTokenSession(
    done.user,
    done.step.scope,
    done.step.clientId,
    ctx,
    `${done.step.method}+mfa`,
    done.amr,
    externalOf(done.step),
  );
}

export interface MfaLoginRouteOptions {
  readonly sessions: SessionService;
  readonly factors: FactorService;
  readonly cookie: SessionCookie;
  readonly trustedOrigins: readonly string[];
  /** The second step's page (GATEHOUSE_PAGES). */
  readonly form?: HtmlForm | undefined;
}

export const mfaLoginRoutes: FastifyPluginAsyncTypebox<MfaLoginRouteOptions> = async (app, options) => {
  const { factors, sessions } = options;
  const RequestOptions = Type.Object(
    {},
    { additionalProperties: true, description: 'PublicKeyCredentialRequestOptionsJSON' },
  );
  app.post(
    '/mfa/webauthn/options',
    {
      config: { gatehouse: { noStore: true, rateLimit: 'login' } },
      schema: {
        summary: 'Passkey as second factor: WebAuthn request options',
        description:
          "For the `mfa_token` of a first step: options allowing the account's passkeys. Sign them with `navigator.credentials.get()` and send the response as `assertion` to `POST /token` (`urn:gatehouse:grant-type:mfa-webauthn`) or `POST /login/mfa`.",
        tags: ['auth'],
        body: Type.Object({ mfa_token: Type.String({ maxLength: 200 }) }),
        response: { 200: RequestOptions, 400: ErrorDetail, 422: ValidationErrorBody, 429: ErrorDetail },
      },
    },
    async (request) => factors.passkeyOptionsForMfa(request.body.mfa_token),
  );

  app.post(
    '/webauthn/authenticate/options',
    {
      config: { gatehouse: { noStore: true, rateLimit: 'login' } },
      schema: {
        summary: 'Passwordless passkey sign-in: WebAuthn request options',
        description:
          'Options without `allowCredentials` (discoverable credentials, user verification required); the challenge lives 5 minutes. Send the signed response as `assertion` to `POST /token` with `grant_type=urn:gatehouse:grant-type:webauthn`, or to `POST /login/passkey`.',
        tags: ['auth'],
        response: { 200: RequestOptions, 429: ErrorDetail },
      },
    },
    async () => factors.passwordlessOptions(),
  );

  app.post(
    '/login/passkey',
    {
      config: { gatehouse: { noStore: true, rateLimit: 'login' } },
      schema: {
        summary: 'Sign in with a passkey (browsers): sets the session cookie',
        description:
          'The `assertion` (AuthenticationResponseJSON, as JSON text) of `POST /webauthn/authenticate/options`.',
        tags: ['sessions'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: Type.Object({ assertion: Type.String({ maxLength: 20_000 }) }),
        response: {
          200: Type.Intersect([PublicUserSchema, Type.Object({ csrf_token: Type.String() })]),
          400: ErrorDetail,
          422: ValidationErrorBody,
          429: ErrorDetail,
        },
      },
    },
    async (request, reply) => {
      checkAnonymousWrite(request, options.trustedOrigins);
      const ctx = requestContext(request);
      const signedIn = await factors.signInWithPasskey(parseAssertion(request.body.assertion), ctx);
      const { cookieValue } = await sessions.startCookieSession(signedIn.user, ctx, 'webauthn', signedIn.amr);
      reply.setCookie(options.cookie.name, cookieValue, options.cookie.options);
      return { ...toPublicUser(signedIn.user), csrf_token: csrfTokenFor(cookieValue) };
    },
  );

  app.post(
    '/login/mfa',
    {
      config: { gatehouse: { noStore: true, rateLimit: 'login', htmlForm: options.form } },
      schema: {
        summary: 'Finish a cookie sign-in with a second factor',
        description:
          'After `POST /login` answered 403 `mfa_required`: the `mfa_token` with one of `otp` (authenticator app), `recovery_code`, or `assertion` (a passkey, JSON, after `POST /mfa/webauthn/options`). Sets the session cookie.',
        tags: ['sessions'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: Type.Object({
          mfa_token: Type.String({ maxLength: 200 }),
          otp: Type.Optional(Type.String({ maxLength: 20 })),
          recovery_code: Type.Optional(Type.String({ maxLength: 40 })),
          assertion: Type.Optional(Type.String({ maxLength: 20_000 })),
        }),
        response: {
          200: Type.Intersect([PublicUserSchema, Type.Object({ csrf_token: Type.String() })]),
          400: ErrorDetail,
          401: ErrorDetail,
          403: ErrorDetail,
          422: ValidationErrorBody,
          429: ErrorDetail,
        },
      },
    },
    async (request, reply) => {
      checkAnonymousWrite(request, options.trustedOrigins);
      const ctx = requestContext(request);
      const { mfa_token: mfaToken, otp, recovery_code: recoveryCode, assertion } = request.body;
      const done =
        assertion !== undefined
          ? await factors.completeWithPasskey(mfaToken, 'cookie', parseAssertion(assertion), ctx)
          : await factors.completeWithCode(
              mfaToken,
              'cookie',
              otp !== undefined ? { otp } : { recoveryCode: need(recoveryCode, 'otp') },
              ctx,
            );
      const { cookieValue } = await sessions.startCookieSession(
        done.user,
        ctx,
        `${done.step.method}+mfa`,
        done.amr,
        externalOf(done.step),
      );
      reply.setCookie(options.cookie.name, cookieValue, options.cookie.options);
      return { ...toPublicUser(done.user), csrf_token: csrfTokenFor(cookieValue) };
    },
  );
};
