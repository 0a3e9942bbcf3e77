/**
 * `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009) for registered clients, which
 * authenticate as they do at the token endpoint.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { PresentedClientCredentials } from '../../auth/oidc/client-types.ts';
import type { TokenIntrospectionService } from '../../auth/oidc/token-introspection.ts';
import { HttpClientError } from '../errors.ts';
import { requestContext } from '../request-context.ts';
import { OAuthError, ValidationErrorBody } from '../schemas.ts';

const TokenForm = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 8192, description: 'The access or refresh token' })),
  token_type_hint: Type.Optional(
    Type.String({
      maxLength: 40,
      description: '`access_token` or `refresh_token`: which kind to look for first',
    }),
  ),
  client_id: Type.Optional(Type.String({ maxLength: 200 })),
  client_secret: Type.Optional(Type.String({ maxLength: 200 })),
  client_assertion_type: Type.Optional(Type.String({ maxLength: 200 })),
  client_assertion: Type.Optional(Type.String({ maxLength: 8192 })),
});

const Introspection = Type.Object(
  {
    active: Type.Boolean(),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    username: Type.Optional(Type.String()),
    token_type: Type.Optional(Type.String({ description: '`Bearer` or `refresh_token`' })),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    nbf: Type.Optional(Type.Integer()),
    sub: Type.Optional(Type.String()),
    aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    iss: Type.Optional(Type.String()),
    jti: Type.Optional(Type.String()),
  },
  { description: "RFC 7662 §2.2; only `active: false` for a token that is not the caller's or not live" },
);

function credentialsOf(
  body: Static<typeof TokenForm>,
  authorization: string | undefined,
): PresentedClientCredentials {
  return {
    authorization,
    clientId: body.client_id,
    clientSecret: body.client_secret,
    clientAssertionType: body.client_assertion_type,
    clientAssertion: body.client_assertion,
  };
}

function tokenOf(body: Static<typeof TokenForm>): string {
  // RFC 7662 §2.1, RFC 7009 §2.1: `token` is required; its absence is invalid_request.
  if (body.token === undefined || body.token === '') throw new HttpClientError(400, 'token is required');
  return body.token;
}

export interface IntrospectionRouteOptions {
  readonly tokenIntrospection: TokenIntrospectionService;
  /** The endpoints' base URL (issuer and mount path): a client assertion's `aud`. */
  readonly baseUrl: string;
}

export const introspectionRoutes: FastifyPluginAsyncTypebox<IntrospectionRouteOptions> = async (
  app,
  options,
) => {
  const { tokenIntrospection, baseUrl } = options;
  const formOnly = async (request: { headers: Record<string, string | string[] | undefined> }) => {
    const type = request.headers['content-type'];
    if (typeof type !== 'string' || !type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      throw new HttpClientError(415, 'Send the request as application/x-www-form-urlencoded');
    }
  };
  const common = {
    tags: ['oauth'],
    consumes: ['application/x-www-form-urlencoded'],
    body: TokenForm,
  };

  app.post(
    '/introspect',
    {
      config: { gatehouse: { oauthErrors: true, noStore: true, rateLimit: 'token' } },
      preValidation: formOnly,
      schema: {
        ...common,
        summary: 'Token introspection (RFC 7662)',
        description:
          "For an authenticated client: whether a token is active, and what it is. A token issued to another client is `active: false` (unless its `aud` is the caller's registered `audience`), as are revoked, expired and malformed ones.",
        response: { 200: Introspection, 400: OAuthError, 401: OAuthError, 422: ValidationErrorBody },
      },
    },
    async (request) =>
      tokenIntrospection.introspect(
        credentialsOf(request.body, request.headers.authorization),
        `${baseUrl}/introspect`,
        tokenOf(request.body),
        request.body.token_type_hint,
        requestContext(request),
      ),
  );

  app.post(
    '/revoke',
    {
      config: { gatehouse: { oauthErrors: true, noStore: true, rateLimit: 'token' } },
      preValidation: formOnly,
      schema: {
        ...common,
        summary: 'Token revocation (RFC 7009)',
        description:
          "Revokes one of the calling client's tokens: a refresh token ends its session (every token of it), and so does an access token of a session. Answers 200 for unknown, invalid and other clients' tokens too, which are left alone.",
        response: {
          200: Type.Null({ description: "Empty: the token is revoked, or was not the caller's to revoke" }),
          400: OAuthError,
          401: OAuthError,
          422: ValidationErrorBody,
        },
      },
    },
    async (request, reply) => {
      await tokenIntrospection.revoke(
        credentialsOf(request.body, request.headers.authorization),
        `${baseUrl}/revoke`,
        tokenOf(request.body),
        request.body.token_type_hint,
        requestContext(request),
      );
      // RFC 7009 §2.2: the body is ignored, so none is sent (no payload skips serialization).
      return reply.code(200).send(undefined as unknown as null);
    },
  );
};
