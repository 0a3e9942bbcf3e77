import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MFA_ACR } from '../../auth/errors.ts';
import { ID_TOKEN_ALGORITHMS, type KeySet } from '../../auth/key-set.ts';
import { PROMPT_VALUES } from '../../auth/oidc/authorization-request.ts';
import { ASSERTION_ALGORITHMS, CLIENT_AUTH_METHODS } from '../../auth/oidc/client-authentication.ts';
import { CLAIMS_SUPPORTED, OIDC_SCOPES } from '../../auth/oidc/scopes.ts';
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
  /** The public signing keys (access tokens and ID tokens). */
  readonly keys: Pick<KeySet, 'publicJwks'>;
  /** The OpenID Provider's endpoints are served (`/authorize` needs the hosted pages). */
  readonly openIdProvider: boolean;
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
  const provider = options.openIdProvider;
  const metadata = {
    issuer,
    ...(provider ? { authorization_endpoint: `${base}/authorize` } : {}),
    token_endpoint: `${base}/token`,
    ...(provider
      ? {
          userinfo_endpoint: `${base}/userinfo`,
          pushed_authorization_request_endpoint: `${base}/par`,
        }
      : {}),
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: [
      ...(provider ? ['authorization_code'] : []),
      'password',
      'refresh_token',
      ...(provider ? ['client_credentials'] : []),
      MAGIC_LINK_GRANT,
    ],
    response_types_supported: provider ? ['code'] : ([] as string[]),
    ...(provider
      ? {
          response_modes_supported: ['query'],
          code_challenge_methods_supported: ['S256'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: [...ID_TOKEN_ALGORITHMS],
          claims_supported: [...CLAIMS_SUPPORTED],
          prompt_values_supported: [...PROMPT_VALUES],
          acr_values_supported: [MFA_ACR],
          authorization_response_iss_parameter_supported: true,
          request_parameter_supported: false,
          request_uri_parameter_supported: false,
          require_pushed_authorization_requests: false,
        }
      : {}),
    token_endpoint_auth_methods_supported: provider ? [...CLIENT_AUTH_METHODS, 'none'] : ['none'],
    ...(provider ? { token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS } : {}),
    introspection_endpoint: `${base}/introspect`,
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint: `${base}/revoke`,
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
  };
  const scopes = () => [...(provider ? OIDC_SCOPES : []), ...roles.knownPermissions()];
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
    async () => ({ ...metadata, scopes_supported: scopes() }),
  );
  if (!provider) return;
  app.get(
    '/.well-known/openid-configuration',
    {
      schema: {
        summary: 'OpenID Provider metadata (OpenID Connect Discovery 1.0)',
        tags: ['meta'],
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => ({ ...metadata, scopes_supported: scopes() }),
  );
};
