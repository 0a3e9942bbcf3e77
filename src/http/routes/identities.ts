/** The signed-in user's connected accounts at external providers: list, link, unlink. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ExternalSignInService, IdentityView } from '../../auth/external/sign-in.ts';
import { type Guards, principalOf } from '../guards.ts';
import { prefersHtml } from '../pages/negotiation.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail } from '../schemas.ts';
import type { FlowCookie } from './oauth.ts';

export const IdentitySchema = Type.Object({
  id: Type.String(),
  provider: Type.String({ description: "`google`, `github`, or a generic provider's name" }),
  display_name: Type.String(),
  email: Type.Union([Type.String(), Type.Null()], { description: 'The address the provider gave' }),
  email_verified: Type.Boolean({ description: 'The provider said it verified the address' }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
});

export function toIdentityBody(identity: IdentityView) {
  return {
    id: identity.id,
    provider: identity.provider,
    display_name: identity.displayName,
    email: identity.email,
    email_verified: identity.emailVerified,
    created_at: new Date(identity.createdAt).toISOString(),
    last_used_at: new Date(identity.lastUsedAt).toISOString(),
  };
}

export interface IdentityRouteOptions {
  readonly externalSignIn: ExternalSignInService;
  readonly basePath: string;
  readonly guards: Guards;
  readonly flowCookie: FlowCookie;
  readonly forms?: PageForms | undefined;
}

export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRouteOptions> = async (app, options) => {
  const { externalSignIn, basePath, guards, flowCookie } = options;
  const failures = { 401: ErrorDetail, 403: ErrorDetail };

  app.get(
    '/users/me/identities',
    {
      onRequest: guards.requireScopes('profile:read'),
      schema: {
        summary: 'Your connected accounts (Google, GitHub, OpenID Connect)',
        tags: ['users'],
        response: { 200: Type.Array(IdentitySchema), ...failures },
      },
    },
    async (request) =>
      (await externalSignIn.listIdentities(principalOf(request).user.id)).map(toIdentityBody),
  );

  app.post(
    '/users/me/identities/:provider',
    {
      onRequest: [guards.requireScopes('profile:write'), guards.requireRecentAuth()],
      config: { gatehouse: { noStore: true, rateLimit: 'login', htmlForm: options.forms?.account } },
      schema: {
        summary: 'Connect an account at a provider',
        description:
          "Needs a recent sign-in (`REAUTH_REQUIRED`). Starts the provider's redirect flow: a browser form post is sent there (303); other clients get `authorization_url` to open in the browser that holds the state cookie set here. The provider sends the browser back to `/oauth/{provider}/callback`, which connects the account and redirects to `/account`.",
        tags: ['users'],
        params: Type.Object({ provider: Type.String({ pattern: '^[a-z0-9]{1,40}$' }) }),
        response: {
          200: Type.Object({ authorization_url: Type.String() }),
          303: Type.Null(),
          400: ErrorDetail,
          404: ErrorDetail,
          ...failures,
        },
      },
    },
    async (request, reply) => {
      const started = await externalSignIn.start(request.params.provider, {
        linkUserId: principalOf(request).user.id,
        returnTo: `${basePath}/account`,
      });
      flowCookie.set(reply, started.handle);
      // A browser's form post goes on from a page of ours (see /oauth/{provider}/continue).
      if (prefersHtml(request)) {
        return reply
          .code(303)
          .header('location', `${basePath}/oauth/${request.params.provider}/continue`)
          .send(null);
      }
      return { authorization_url: started.authorizationUrl };
    },
  );

  app.delete(
    '/users/me/identities/:id',
    {
      onRequest: guards.requireScopes('profile:write'),
      schema: {
        summary: 'Disconnect an account at a provider',
        description:
          'Refused with 409 `LAST_SIGN_IN_METHOD` when the account has no password and no other connected account.',
        tags: ['users'],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), 404: ErrorDetail, 409: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      await externalSignIn.unlink(principalOf(request).user.id, request.params.id, requestContext(request));
      return reply.code(204).send(null);
    },
  );
};
