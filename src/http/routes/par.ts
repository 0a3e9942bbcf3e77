/** Pushed authorization requests (RFC 9126 §2): `POST /par`, client-authenticated. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { OpenIdProvider } from '../../auth/oidc/provider.ts';
import { presentedClientCredentials } from '../client-credentials.ts';
import { HttpClientError } from '../errors.ts';
import { requestContext } from '../request-context.ts';
import { OAuthError } from '../schemas.ts';

export interface ParRouteOptions {
  readonly oidc: OpenIdProvider;
}

export const parRoutes: FastifyPluginAsyncTypebox<ParRouteOptions> = async (app, options) => {
  app.post(
    '/par',
    {
      config: { gatehouse: { oauthErrors: true, noStore: true, rateLimit: 'token' } },
      schema: {
        summary: 'Pushed authorization request (RFC 9126)',
        description:
          'The client pushes the parameters of an authorization request (authenticated as at `/token`) and gets a `request_uri` for `/authorize`, good for 60 seconds and one answer.',
        tags: ['openid'],
        consumes: ['application/x-www-form-urlencoded'],
        body: Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 4096 })),
        response: {
          201: Type.Object({ request_uri: Type.String(), expires_in: Type.Integer() }),
          400: OAuthError,
          401: OAuthError,
        },
      },
      preValidation: async (request) => {
        if (!request.headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
          throw new HttpClientError(415, 'Send the request as application/x-www-form-urlencoded');
        }
      },
    },
    async (request, reply) => {
      const pushed = await options.oidc.pushAuthorizationRequest(
        presentedClientCredentials(request, request.body),
        request.body,
        requestContext(request),
      );
      return reply.code(201).send({ request_uri: pushed.requestUri, expires_in: pushed.expiresInSeconds });
    },
  );
};
