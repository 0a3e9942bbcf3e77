/**
 * A user's second factors: `/users/me/factors…`, `/users/me/recovery-codes`, and an
 * administrator's `DELETE /users/{id}/factors`. Changing factors needs a recent sign-in, with a
 * second factor when the account has one; an enrollment token (from `mfa_enrollment_required`)
 * may only list, enrol and confirm.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type AccountService, toPublicUser } from '../../auth/accounts.ts';
import type { FactorView } from '../../auth/factors/factor-service.ts';
import type { FactorService } from '../../auth/factors/factors.ts';
import { isEnrollmentToken } from '../../auth/factors/mfa-tokens.ts';
import { actorOf, BEARER_SECURITY, GUARD_SECURITY, type Guards, principalOf } from '../guards.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, ValidationErrorBody } from '../schemas.ts';

const Factor = Type.Object({
  id: Type.String(),
  type: Type.Union([Type.Literal('totp'), Type.Literal('webauthn')]),
  name: Type.String(),
  confirmed: Type.Boolean({ description: 'False: an authenticator app waiting for its first code' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export const RecoveryCodes = Type.Array(Type.String(), {
  description: 'Shown this once: each signs in once in place of a second factor',
});
const failures = {
  400: ErrorDetail,
  401: ErrorDetail,
  403: ErrorDetail,
  404: ErrorDetail,
  409: ErrorDetail,
  422: ValidationErrorBody,
  429: ErrorDetail,
  503: ErrorDetail,
};

export const showFactor = (f: FactorView) => ({
  id: f.id,
  type: f.type,
  name: f.name,
  confirmed: f.confirmed,
  created_at: new Date(f.createdAt).toISOString(),
  last_used_at: f.lastUsedAt === null ? null : new Date(f.lastUsedAt).toISOString(),
});

/** A factor just added, with the recovery codes of a first factor. */
const showAdded = (result: { factor: FactorView; recoveryCodes: string[] | undefined }) => ({
  ...showFactor(result.factor),
  ...(result.recoveryCodes ? { recovery_codes: result.recoveryCodes } : {}),
});

export interface FactorAccess {
  /** A signed-in user (`profile:write`), or the bearer of an enrollment token. */
  readonly userOrEnrollment: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** The enrollment token of the request, when it came with one. */
  enrollmentTokenOf(request: FastifyRequest): string | undefined;
  /** Recent sign-in, with a second factor when the account has one (RFC 9470 step-up). */
  requireStepUp(request: FastifyRequest): Promise<void>;
}

export function factorAccess(
  services: { factors: FactorService; clock: { now(): number } },
  guards: Guards,
): FactorAccess {
  const { factors, clock } = services;
  const enrolling = new WeakMap<FastifyRequest, string>();
  const userGuard = guards.requireScopes('profile:write');
  const userOrEnrollment = async function (
    this: FastifyInstance,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const match = /^Bearer[ ]+(enr_[^ ]+)[ ]*$/i.exec(request.headers.authorization ?? '');
    if (match?.[1] === undefined || !isEnrollmentToken(match[1])) {
      await userGuard.call(this, request, reply);
      return;
    }
    const user = await factors.enrollingUser(match[1]);
    enrolling.set(request, match[1]);
    request.principal = {
      user: toPublicUser(user),
      method: 'bearer',
      scopes: new Set(),
      apiKeyId: undefined,
      claims: undefined,
      sessionId: undefined,
      csrfToken: undefined,
      authTimeMs: clock.now(),
    };
  };
  return {
    userOrEnrollment: Object.assign(userOrEnrollment, { [GUARD_SECURITY]: BEARER_SECURITY }),
    enrollmentTokenOf: (request) => enrolling.get(request),
    async requireStepUp(request) {
      if (!enrolling.has(request)) await guards.assertStepUp(request);
    },
  };
}

export interface FactorRouteOptions {
  readonly factors: FactorService;
  readonly accounts: AccountService;
  readonly guards: Guards;
  readonly access: FactorAccess;
}

export const factorRoutes: FastifyPluginAsyncTypebox<FactorRouteOptions> = async (app, options) => {
  const { factors, accounts } = options;
  const { guards, access } = options;
  const me = async (request: FastifyRequest) => accounts.getUserOrThrow(principalOf(request).user.id);

  app.get(
    '/users/me/factors',
    {
      onRequest: access.userOrEnrollment,
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'List your second factors',
        description:
          'Authenticator apps and passkeys (never their secrets), and how many recovery codes are left.',
        tags: ['factors'],
        response: {
          200: Type.Object({ items: Type.Array(Factor), recovery_codes_remaining: Type.Integer() }),
          ...failures,
        },
      },
    },
    async (request) => {
      const userId = principalOf(request).user.id;
      return {
        items: (await factors.listFactors(userId)).map(showFactor),
        recovery_codes_remaining: await factors.recoveryCodesLeft(userId),
      };
    },
  );

  app.post(
    '/users/me/factors/totp',
    {
      onRequest: access.userOrEnrollment,
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'Start setting up an authenticator app (TOTP)',
        description:
          'Returns the secret (shown once), the `otpauth://` URI and its QR code as SVG. The app counts as a second factor once `POST /users/me/factors/totp/{id}/confirm` gets one of its codes. Needs a recent sign-in, with a second factor when you have one; or an enrollment token.',
        tags: ['factors'],
        body: Type.Optional(
          Type.Object(
            { name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) },
            { additionalProperties: false },
          ),
        ),
        response: {
          201: Type.Object({
            id: Type.String(),
            secret: Type.String({ description: 'Base32, to type into the app by hand' }),
            otpauth_uri: Type.String(),
            qr_svg: Type.String({ description: 'The URI as a QR code, an SVG document' }),
          }),
          ...failures,
        },
      },
    },
    async (request, reply) => {
      await access.requireStepUp(request);
      const enrolment = await factors.enrollTotp(
        await me(request),
        request.body?.name,
        requestContext(request),
      );
      reply.code(201);
      return {
        id: enrolment.id,
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauthUri,
        qr_svg: enrolment.qrSvg,
      };
    },
  );

  app.post(
    '/users/me/factors/totp/:id/confirm',
    {
      onRequest: access.userOrEnrollment,
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'Confirm an authenticator app with one of its codes',
        description:
          'Activates the app as a second factor. Confirming your first factor returns 10 recovery codes, shown this once.',
        tags: ['factors'],
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        body: Type.Object({ code: Type.String({ maxLength: 20 }) }, { additionalProperties: false }),
        response: {
          200: Type.Intersect([Factor, Type.Object({ recovery_codes: Type.Optional(RecoveryCodes) })]),
          ...failures,
        },
      },
    },
    async (request) => {
      const result = await factors.confirmTotp(
        await me(request),
        request.params.id,
        request.body.code,
        requestContext(request),
      );
      const enrollmentToken = access.enrollmentTokenOf(request);
      if (enrollmentToken !== undefined) await factors.spendEnrollment(enrollmentToken);
      return showAdded(result);
    },
  );

  app.post(
    '/users/me/factors/webauthn/options',
    {
      onRequest: access.userOrEnrollment,
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'Start adding a passkey: WebAuthn creation options',
        description:
          '`PublicKeyCredentialCreationOptionsJSON` for `navigator.credentials.create()` (resident key and user verification preferred, your passkeys excluded); its challenge lives 5 minutes. Needs a recent sign-in, with a second factor when you have one; or an enrollment token.',
        tags: ['factors'],
        response: { 200: Type.Object({}, { additionalProperties: true }), ...failures },
      },
    },
    async (request) => {
      await access.requireStepUp(request);
      return factors.passkeyRegistrationOptions(await me(request));
    },
  );

  app.post(
    '/users/me/factors/webauthn',
    {
      onRequest: access.userOrEnrollment,
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'Add a passkey',
        description:
          'The `RegistrationResponseJSON` of the ceremony started by the options. Your first factor returns 10 recovery codes, shown this once.',
        tags: ['factors'],
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            response: Type.Object(
              {},
              { additionalProperties: true, description: 'RegistrationResponseJSON' },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Intersect([Factor, Type.Object({ recovery_codes: Type.Optional(RecoveryCodes) })]),
          ...failures,
        },
      },
    },
    async (request, reply) => {
      await access.requireStepUp(request);
      const result = await factors.registerPasskey(
        await me(request),
        request.body.name,
        request.body.response as Record<string, unknown>,
        requestContext(request),
      );
      const enrollmentToken = access.enrollmentTokenOf(request);
      if (enrollmentToken !== undefined) await factors.spendEnrollment(enrollmentToken);
      reply.code(201);
      return showAdded(result);
    },
  );

  app.delete(
    '/users/me/factors/:id',
    {
      onRequest: guards.requireScopes('profile:write'),
      schema: {
        summary: 'Remove one of your second factors',
        description:
          'Needs a recent sign-in, with a second factor when you have one (401 `REAUTH_REQUIRED` / `MFA_STEP_UP_REQUIRED`). Refused (409 `LAST_SIGN_IN_METHOD`) when it is the last passkey of an account without a password.',
        tags: ['factors'],
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        response: { 204: Type.Null(), ...failures },
      },
    },
    async (request, reply) => {
      await access.requireStepUp(request);
      await factors.removeFactor(await me(request), request.params.id, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/users/me/recovery-codes',
    {
      onRequest: guards.requireScopes('profile:write'),
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'Make new recovery codes',
        description:
          'Replaces every recovery code with 10 new ones, shown this once. Needs a recent sign-in with a second factor.',
        tags: ['factors'],
        response: { 200: Type.Object({ recovery_codes: RecoveryCodes }), ...failures },
      },
    },
    async (request) => {
      await access.requireStepUp(request);
      return {
        recovery_codes: await factors.regenerateRecoveryCodes(await me(request), requestContext(request)),
      };
    },
  );

  app.delete(
    '/users/:id/factors',
    {
      onRequest: guards.requireScopes('users:write'),
      schema: {
        summary: "Reset a user's second factors (admin)",
        description:
          "Removes every factor and recovery code of the user, who is mailed a notice. Needs `users:write` and every permission of the user's roles (privilege ceiling).",
        tags: ['factors'],
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        response: { 200: Type.Object({ removed: Type.Integer() }), ...failures },
      },
    },
    async (request) => ({
      removed: await factors.resetFactors(actorOf(request), request.params.id, requestContext(request)),
    }),
  );
};
