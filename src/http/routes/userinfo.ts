/** The UserInfo endpoint (OpenID Connect Core §5.3): `GET` or `POST /userinfo` with a bearer access token. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { NotAuthenticatedError } from '../../auth/errors.ts';
import type { OpenIdProvider } from '../../auth/oidc/provider.ts';

export interface UserInfoRouteOptions {
  readonly oidc: OpenIdProvider;
}

const Claims = Type.Object(
  {
    sub: Type.String(),
    name: Type.Optional(Type.String()),
    preferred_username: Type.Optional(Type.String()),
    email: Type.Optional(Type.String()),
    email_verified: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const Detail = Type.Object({ detail: Type.String() });

/** RFC 6750 §2.1: the token in the Authorization header only. */
function bearerToken(request: FastifyRequest): string {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(request.headers.authorization ?? '');
  if (match?.[1] === undefined) throw new NotAuthenticatedError('Bearer');
  return match[1];
}

export const userInfoRoutes: FastifyPluginAsyncTypebox<UserInfoRouteOptions> = async (app, options) => {
  const schema = {
    summary: 'OpenID Connect UserInfo',
    description:
      'The claims of the access token’s user by its scopes (`openid` required; `profile`, `email`).',
    tags: ['openid'],
    security: [{ OAuth2PasswordBearer: [] }],
    response: { 200: Claims, 401: Detail, 403: Detail },
  };
  const handler = async (request: FastifyRequest) => options.oidc.userInfo(bearerToken(request));
  app.get('/userinfo', { config: { gatehouse: { noStore: true } }, schema }, handler);
  app.post('/userinfo', { config: { gatehouse: { noStore: true } }, schema }, handler);
};
