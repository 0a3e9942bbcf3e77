import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { BASIC_SECURITY, BEARER_SECURITY, type Guards, principalOf } from '../guards.ts';
import { ErrorDetail, Message, PublicUserSchema } from '../schemas.ts';

function greeting(principal: { user: { full_name: string | null; username: string } }): { message: string } {
  return {
    message: `Hello ${principal.user.full_name || principal.user.username}, this is a protected route!`,
  };
}

export const meRoutes: FastifyPluginAsyncTypebox<{ readonly guards: Guards }> = async (app, options) => {
  const { guards } = options;
  const failures = { 400: ErrorDetail, 401: ErrorDetail };
  app.get(
    '/users/me',
    {
      onRequest: guards.requireScopes('profile:read'),
      schema: {
        summary: 'The current user',
        description:
          "Needs the `profile:read` scope, as FastAPI's SecurityScopes example guards `/users/me`.",
        tags: ['users'],
        response: { 200: PublicUserSchema, 403: ErrorDetail, ...failures },
      },
    },
    async (request) => principalOf(request).user,
  );
  app.get(
    '/protected',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: 'A route that needs a bearer token',
        tags: ['examples'],
        security: BEARER_SECURITY,
        response: { 200: Message, ...failures },
      },
    },
    async (request) => greeting(principalOf(request)),
  );
  app.get(
    '/protected/basic',
    {
      config: { gatehouse: { rateLimit: 'basic' } },
      onRequest: guards.requireBasicUser,
      schema: {
        summary: 'The same route behind HTTP Basic',
        description: 'Least recommended: the password travels with every request. Prefer bearer tokens.',
        tags: ['examples'],
        security: BASIC_SECURITY,
        response: { 200: Message, ...failures },
      },
    },
    async (request) => greeting(principalOf(request)),
  );
};
