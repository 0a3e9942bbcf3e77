import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { KeyRing } from '../../auth/keys.ts';
import { ASSERTION_ALGORITHMS, CLIENT_AUTH_METHODS } from '../../auth/oidc/client-authentication.ts';
import type { RoleService } from '../../auth/permissions.ts';
import { MAGIC_LINK_GRANT } from './token.ts';

const Jwks = Type.Object({
  keys: Type.Array(
    Type.Object(
      { kid: Type.String(), alg: Type.String(), use: Type.String() },
      { additionalProperties: true },
    ),
  ),
});

export interface WellKnownRouteOptions {
  /** The public signing keys. */
  readonly keys: Pick<KeyRing, 'publicJwks'>;
  /** The permissions there are: `scopes_supported`. */
  readonly roles: Pick<RoleService, 'knownPermissions'>;
  readonly issuer: string;
  /** Where the routes are mounted (`''` or the plugin's prefix). */
  readonly basePath: string;
  readonly jwksMaxAgeSeconds: number;
}

export const wellKnownRoutes: FastifyPluginAsyncTypebox<WellKnownRouteOptions> = async (app, options) => {
  const { keys, issuer, roles, basePath, jwksMaxAgeSeconds } = options;
  // The issuer names the host API; its endpoints sit where the plugin is mounted.
  const base = `${issuer.replace(/\/+$/, '')}${basePath}`;
  const metadata = {
    issuer,
    token_endpoint: `${base}/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: ['password', 'refresh_token', MAGIC_LINK_GRANT],
    response_types_supported: [] as string[],
    scopes_supported: [] as string[],
    token_endpoint_auth_methods_supported: ['none'],
    introspection_endpoint: `${base}/introspect`,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint: `${base}/revoke`,
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
  };
  app.get(
    '/.well-known/jwks.json',
    { schema: { summary: 'Public signing keys (JWKS)', tags: ['meta'], response: { 200: Jwks } } },
    async (_request, reply) => {
      reply.header('cache-control', `public, max-age=${jwksMaxAgeSeconds}`);
      return keys.publicJwks();
    },
  );
  app.get(
    '/.well-known/oauth-authorization-server',
    {
      schema: {
        summary: 'Authorization server metadata (RFC 8414)',
        tags: ['meta'],
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => ({ ...metadata, scopes_supported: roles.knownPermissions() }),
  );
};
