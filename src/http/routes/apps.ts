/**
 * "Apps with access": the OpenID Provider clients a user has consented to (`GET /users/me/apps`),
 * and taking that access back (`DELETE /users/me/apps/{client_id}`, and the account page's form).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { OpenIdProvider } from '../../auth/oidc/provider.ts';
import { BEARER_SECURITY, type Guards, principalOf } from '../guards.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail } from '../schemas.ts';

const AppItem = Type.Object({
  client_id: Type.String(),
  client_name: Type.String(),
  scopes: Type.Array(Type.String()),
  granted_at: Type.String({ format: 'date-time' }),
});
const ClientParams = Type.Object({ client_id: Type.String({ maxLength: 128 }) });
const failures = { 401: ErrorDetail, 403: ErrorDetail };

export interface AppRouteOptions {
  readonly oidc: OpenIdProvider;
  readonly guards: Guards;
  readonly basePath: string;
  readonly forms?: PageForms | undefined;
}

export const appRoutes: FastifyPluginAsyncTypebox<AppRouteOptions> = async (app, options) => {
  const { oidc, guards, basePath, forms } = options;

  app.get(
    '/users/me/apps',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: 'Apps with access: the OpenID Provider clients you have allowed',
        tags: ['users'],
        security: BEARER_SECURITY,
        response: { 200: Type.Object({ items: Type.Array(AppItem) }), ...failures },
      },
    },
    async (request) => {
      const apps = await oidc.listApps(principalOf(request).user.id);
      return {
        items: apps.map((each) => ({
          client_id: each.clientId,
          client_name: each.clientName,
          scopes: [...each.scopes],
          granted_at: new Date(each.grantedAt).toISOString(),
        })),
      };
    },
  );

  app.delete(
    '/users/me/apps/:client_id',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: "Remove an app's access",
        description:
          'Forgets your consents to the client (it asks again next time) and ends its sessions of yours: its refresh tokens stop working, its access tokens are refused.',
        tags: ['users'],
        security: BEARER_SECURITY,
        params: ClientParams,
        response: { 204: Type.Null(), 404: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await oidc.removeApp(principal.user.id, request.params.client_id, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  if (forms === undefined) return;
  app.post(
    '/account/apps/:client_id/remove',
    {
      onRequest: guards.requireUser,
      config: { gatehouse: { htmlForm: forms.account } },
      schema: { hide: true, params: ClientParams },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await oidc.removeApp(principal.user.id, request.params.client_id, requestContext(request));
      return reply.code(303).header('location', `${basePath}/account?notice=app-removed`).send();
    },
  );
};
