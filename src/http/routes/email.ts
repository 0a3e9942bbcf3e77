import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type AccountService, toPublicUser } from '../../auth/accounts.ts';
import type { EmailFlowService } from '../../auth/email-flows.ts';
import type { UserAdminService } from '../../auth/user-admin.ts';
import { type Guards, principalOf } from '../guards.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, Message, PublicUserSchema, ValidationErrorBody } from '../schemas.ts';

const TokenBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200, description: 'The token of the emailed link' }) },
  { additionalProperties: false },
);
const EmailBody = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 254 }) },
  { additionalProperties: false },
);

const failures = { 400: ErrorDetail, 422: ValidationErrorBody, 429: ErrorDetail };

/** The same answer whether or not an account has the address. */
const RESET_ACCEPTED = { message: 'If an account has this address, a reset link is on its way' };
const MAGIC_ACCEPTED = { message: 'If this address can sign in, a sign-in link is on its way' };

export interface EmailRouteOptions {
  readonly emailFlows: EmailFlowService;
  readonly userAdmin: UserAdminService;
  readonly accounts: AccountService;
  readonly guards: Guards;
  readonly forms?: PageForms | undefined;
}

export const emailRoutes: FastifyPluginAsyncTypebox<EmailRouteOptions> = async (app, options) => {
  const { emailFlows, userAdmin, accounts, guards, forms } = options;

  app.post(
    '/verify/request',
    {
      config: { gatehouse: { rateLimit: 'mail', htmlForm: forms?.verificationRequest } },
      onRequest: guards.requireUser,
      schema: {
        summary: 'Send a new email verification link',
        description: 'Nothing is sent when the address is already verified.',
        tags: ['email'],
        response: { 202: Message, 401: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      await emailFlows.requestVerification(principalOf(request).user.id, requestContext(request));
      return reply.code(202).send({ message: 'A verification link is on its way, unless already verified' });
    },
  );

  app.post(
    '/verify',
    {
      config: { gatehouse: { htmlForm: forms?.verifyEmail } },
      schema: {
        summary: 'Verify your email address with the token of the emailed link',
        tags: ['email'],
        body: TokenBody,
        response: { 204: Type.Null(), ...failures },
      },
    },
    async (request, reply) => {
      await emailFlows.verifyEmail(request.body.token, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/forgot-password',
    {
      config: { gatehouse: { rateLimit: 'mail', htmlForm: forms?.forgotPassword } },
      schema: {
        summary: 'Send a password reset link',
        description:
          'Always 202 with the same body, whether or not an account has the address; only an existing, enabled account gets mail.',
        tags: ['email'],
        body: EmailBody,
        response: { 202: Message, ...failures },
      },
    },
    async (request, reply) => {
      await emailFlows.requestPasswordReset(request.body.email, requestContext(request));
      return reply.code(202).send(RESET_ACCEPTED);
    },
  );

  app.post(
    '/reset-password',
    {
      config: { gatehouse: { htmlForm: forms?.resetPassword } },
      schema: {
        summary: 'Choose a new password with the token of the reset link',
        description:
          'Applies the password policy (a refused password does not use up the link), ends every session of the account, spends every other link mailed to it (verification, reset, magic link, email change) and revokes its API keys unless `keep_api_keys` is true. On an account whose address was never verified, the reset claims it: every API key is revoked whatever `keep_api_keys` says.',
        tags: ['email'],
        body: Type.Object(
          {
            token: TokenBody.properties.token,
            new_password: Type.String({ maxLength: 1024 }),
            keep_api_keys: Type.Optional(
              Type.Boolean({ default: false, description: "Keep the account's API keys working" }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...failures },
      },
    },
    async (request, reply) => {
      const { token, new_password, keep_api_keys } = request.body;
      await emailFlows.resetPassword(token, new_password, requestContext(request), {
        keepApiKeys: keep_api_keys === true,
      });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/magic-link',
    {
      config: { gatehouse: { rateLimit: 'mail', htmlForm: forms?.magicLinkRequest } },
      schema: {
        summary: 'Send a sign-in link',
        description:
          'Always 202 with the same body. Exchange the token at `POST /token` with `grant_type=urn:gatehouse:grant-type:magic-link`.',
        tags: ['email'],
        body: EmailBody,
        response: { 202: Message, ...failures },
      },
    },
    async (request, reply) => {
      await emailFlows.requestMagicLink(request.body.email, requestContext(request));
      return reply.code(202).send(MAGIC_ACCEPTED);
    },
  );

  app.patch(
    '/users/me',
    {
      config: { gatehouse: { rateLimit: 'mail' } },
      onRequest: guards.requireScopes('profile:write'),
      schema: {
        summary: 'Change your profile',
        description:
          'Needs the `profile:write` scope. A new `email` is not applied at once: a confirmation link goes to the new address (and a notice to the current one); the address changes when the link is confirmed. Changing `email` needs a recent sign-in (`REAUTH_REQUIRED` otherwise; see `POST /reauthenticate`).',
        tags: ['users'],
        body: Type.Object(
          {
            email: Type.Optional(Type.String({ minLength: 3, maxLength: 254 })),
            full_name: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: PublicUserSchema, 401: ErrorDetail, 403: ErrorDetail, ...failures },
      },
    },
    async (request) => {
      const { user } = principalOf(request);
      // Checked before any change: an email change needs a recent sign-in, a name change does not.
      if (request.body.email !== undefined) guards.assertRecentAuth(request);
      if (request.body.full_name !== undefined) {
        await userAdmin.updateOwnProfile(
          user.id,
          { fullName: request.body.full_name },
          requestContext(request),
        );
      }
      if (request.body.email !== undefined) {
        await emailFlows.requestEmailChange(user.id, request.body.email, requestContext(request));
      }
      return toPublicUser(await accounts.getUserOrThrow(user.id));
    },
  );

  app.post(
    '/users/me/email/confirm',
    {
      config: { gatehouse: { htmlForm: forms?.confirmEmail } },
      schema: {
        summary: 'Confirm a new email address with the token of the emailed link',
        description:
          'The token names the account, so this works from any browser or client without a session.',
        tags: ['users'],
        body: TokenBody,
        response: { 204: Type.Null(), ...failures },
      },
    },
    async (request, reply) => {
      await emailFlows.confirmEmailChange(request.body.token, requestContext(request));
      return reply.code(204).send(null);
    },
  );
};
