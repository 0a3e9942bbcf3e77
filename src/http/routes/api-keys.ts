import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { ApiKeyRecord, ApiKeyService } from '../../auth/api-keys.ts';
import { InsufficientScopeError } from '../../auth/errors.ts';
import { actorOf, type Guards, principalOf } from '../guards.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, ValidationErrorBody } from '../schemas.ts';

const ApiKey = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const CreatedApiKey = Type.Intersect([
  ApiKey,
  Type.Object({ key: Type.String({ description: 'The key itself: shown only in this response' }) }),
]);
const failures = { 400: ErrorDetail, 401: ErrorDetail, 403: ErrorDetail, 422: ValidationErrorBody };
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function show(key: ApiKeyRecord) {
  return {
    id: key.id,
    user_id: key.userId,
    name: key.name,
    scopes: [...key.scopes],
    created_at: new Date(key.createdAt).toISOString(),
    expires_at: iso(key.expiresAt),
    last_used_at: iso(key.lastUsedAt),
  };
}

/** Managing other users' keys, or any key through a key, takes `apikeys:write`. */
function requireKeyAdmin(request: FastifyRequest): void {
  if (!principalOf(request).scopes.has('apikeys:write')) throw new InsufficientScopeError(['apikeys:write']);
}

export interface ApiKeyRouteOptions {
  readonly apiKeys: ApiKeyService;
  readonly guards: Guards;
  /** GATEHOUSE_API_KEY_TTL and GATEHOUSE_API_KEY_MAX_TTL, for the route's description. */
  readonly apiKeyTtlSeconds: number;
  readonly apiKeyMaxTtlSeconds: number | null;
}

export const apiKeyRoutes: FastifyPluginAsyncTypebox<ApiKeyRouteOptions> = async (app, options) => {
  const { apiKeys, guards, apiKeyTtlSeconds, apiKeyMaxTtlSeconds } = options;
  app.post(
    '/api-keys',
    {
      // A key outlives a session and a password reset: minting one needs a recent sign-in.
      onRequest: guards.requireRecentAuth(),
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'Create an API key',
        description: `The key acts as you, limited to \`scopes\`, which must be among your permissions. It is returned once. It expires after \`expires_in\` seconds (default ${apiKeyTtlSeconds}, at most ${apiKeyMaxTtlSeconds ?? 'unlimited'}${apiKeyMaxTtlSeconds === null ? '; null: never' : ''}), or at \`expires_at\`. Needs a recent sign-in (\`REAUTH_REQUIRED\` otherwise; see \`POST /reauthenticate\`), so an API key cannot create keys.`,
        tags: ['api keys'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            scopes: Type.Array(Type.String({ maxLength: 128 }), { maxItems: 100 }),
            expires_in: Type.Optional(
              Type.Union([Type.Integer({ minimum: 1, maximum: 3_153_600_000 }), Type.Null()], {
                description:
                  'Lifetime in seconds; null: never expires (only when GATEHOUSE_API_KEY_MAX_TTL=none)',
              }),
            ),
            expires_at: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedApiKey, ...failures },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.method === 'api_key') requireKeyAdmin(request);
      const { name, scopes, expires_in, expires_at } = request.body;
      const { record, key } = await apiKeys.create(
        principal.user.id,
        {
          name,
          scopes,
          ...(expires_in !== undefined ? { expiresInSeconds: expires_in } : {}),
          ...(expires_at !== undefined
            ? { expiresAt: expires_at === null ? null : Date.parse(expires_at) }
            : {}),
        },
        principal.scopes,
        requestContext(request),
      );
      return reply.code(201).send({ ...show(record), key });
    },
  );

  app.get(
    '/api-keys',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: 'List API keys (never their secrets)',
        description:
          "Your keys; with `apikeys:write`, another user's (`?user_id=`) or everyone's (`?user_id=*`), but only of users who hold no permission your credential lacks (403 `PRIVILEGE_ESCALATION` for one such user; left out of everyone's).",
        tags: ['api keys'],
        querystring: Type.Object({ user_id: Type.Optional(Type.String({ maxLength: 64 })) }),
        response: { 200: Type.Object({ items: Type.Array(ApiKey) }), ...failures },
      },
    },
    async (request) => {
      const own = principalOf(request).user.id;
      const wanted = request.query.user_id;
      if (wanted !== undefined && wanted !== own) requireKeyAdmin(request);
      const userId = wanted === '*' ? undefined : (wanted ?? own);
      return { items: (await apiKeys.list(actorOf(request), userId)).map(show) };
    },
  );

  app.delete(
    '/api-keys/:id',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: 'Revoke an API key',
        description:
          "Your own; with `apikeys:write`, anyone's who holds no permission your credential lacks (403 `PRIVILEGE_ESCALATION`).",
        tags: ['api keys'],
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), 404: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const anyones = principal.scopes.has('apikeys:write');
      await apiKeys.revoke(
        actorOf(request),
        request.params.id,
        anyones ? undefined : principal.user.id,
        requestContext(request),
      );
      return reply.code(204).send(null);
    },
  );
};
