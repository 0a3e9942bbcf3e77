import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { UnsupportedGrantTypeError } from '../../auth/errors.ts';
import { grantScope, parseScope, SUPPORTED_SCOPES } from '../../auth/scopes.ts';
import type { Gatehouse } from '../../gatehouse.ts';
import { HttpClientError } from '../errors.ts';
import { OAuthError, ValidationErrorBody } from '../schemas.ts';

const TokenForm = Type.Object({
  grant_type: Type.Optional(Type.String({ maxLength: 100, description: '`password` (may be omitted)' })),
  username: Type.String({ maxLength: 320, description: 'Username or email' }),
  password: Type.String({ maxLength: 1024 }),
  scope: Type.Optional(Type.String({ maxLength: 2000, description: 'Space-separated scopes to request' })),
  client_id: Type.Optional(Type.String({ maxLength: 200 })),
  client_secret: Type.Optional(Type.String({ maxLength: 200 })),
});

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  scope: Type.String({ description: 'The granted scopes, space-separated' }),
});

interface TokenFormBody {
  grant_type?: string;
  username: string;
  password: string;
  scope?: string;
  client_id?: string;
}

export async function tokenRoutes(app: FastifyInstance, options: { gatehouse: Gatehouse }): Promise<void> {
  const { accounts, tokens } = options.gatehouse;
  app.post<{ Body: TokenFormBody }>(
    '/token',
    {
      config: { oauthErrors: true, noStore: true },
      schema: {
        summary: 'OAuth2 password grant (RFC 6749 §4.3)',
        description: 'Exchange a username (or email) and password for a bearer access token.',
        tags: ['auth'],
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenForm,
        response: { 200: TokenResponse, 400: OAuthError, 401: OAuthError, 422: ValidationErrorBody },
      },
      preValidation: async (request) => {
        if (!request.headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
          throw new HttpClientError(415, 'Send the token request as application/x-www-form-urlencoded');
        }
      },
    },
    async (request) => {
      const body = request.body;
      if (body.grant_type !== undefined && body.grant_type !== 'password') {
        throw new UnsupportedGrantTypeError(body.grant_type);
      }
      const user = await accounts.authenticate(body.username, body.password);
      const scope = grantScope(parseScope(body.scope), SUPPORTED_SCOPES);
      const issued = tokens.issueAccessToken({
        userId: user.id,
        username: user.username,
        roles: user.roles,
        scope,
        ...(body.client_id ? { clientId: body.client_id } : {}),
      });
      return {
        access_token: issued.token,
        token_type: 'bearer' as const,
        expires_in: issued.expiresInSeconds,
        scope,
      };
    },
  );
}
