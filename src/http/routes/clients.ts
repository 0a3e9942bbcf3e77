/**
 * The admin API of the OpenID Provider's clients: RFC 7591 metadata in, RFC 7591 §3.2.1 answers
 * out. Open dynamic registration is not offered: registering needs `clients:write`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import { clientMetadataJson } from '../../auth/oidc/client-metadata.ts';
import type { ClientMetadataInput, ClientService } from '../../auth/oidc/clients.ts';
import { actorOf, type Guards } from '../guards.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, ValidationErrorBody } from '../schemas.ts';

const Uris = (description: string) =>
  Type.Array(Type.String({ maxLength: 2000 }), { maxItems: 20, description });
const Jwks = Type.Object(
  { keys: Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 10 }) },
  { description: '`private_key_jwt`: the public keys the client signs its assertions with' },
);

/** RFC 7591 §2 metadata; unknown members are ignored, as §2 asks. */
const metadataFields = {
  client_name: Type.String({ maxLength: 100, description: 'Shown on the sign-in and consent pages' }),
  redirect_uris: Uris('Exact match; `https`, loopback `http` (any port) or a reverse-domain native scheme'),
  post_logout_redirect_uris: Uris('Where RP-initiated logout may return to (exact match)'),
  grant_types: Type.Array(Type.String({ maxLength: 40 }), {
    maxItems: 3,
    description: '`authorization_code` (default), `refresh_token`, `client_credentials`',
  }),
  response_types: Type.Array(Type.Literal('code'), { maxItems: 1, description: 'Only `code`' }),
  scope: Type.String({ maxLength: 2000, description: 'Space-separated scopes the client may ask for' }),
  token_endpoint_auth_method: Type.String({
    maxLength: 40,
    description:
      '`client_secret_basic` (default), `client_secret_post`, `private_key_jwt` or `none` (public client)',
  }),
  jwks: Type.Union([Jwks, Type.Null()]),
  jwks_uri: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
  id_token_signed_response_alg: Type.String({
    maxLength: 10,
    description: '`RS256` (default), `ES256`, `EdDSA`',
  }),
  backchannel_logout_uri: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
  require_pushed_authorization_requests: Type.Boolean(),
  skip_consent: Type.Boolean({ description: 'First-party client: no consent screen' }),
  audience: Type.Union([Type.String({ maxLength: 200 }), Type.Null()], {
    description: "The `aud` of the client's access tokens (default: the server's audience)",
  }),
};
const PatchBody = Type.Partial(Type.Object(metadataFields));
type MetadataBody = Static<typeof PatchBody>;
const CreateBody = Type.Intersect([PatchBody, Type.Object({ client_name: metadataFields.client_name })]);

const ClientBody = Type.Object(
  {
    client_id: Type.String(),
    client_id_issued_at: Type.Integer({ description: 'Seconds since the epoch' }),
    client_type: Type.Union([Type.Literal('confidential'), Type.Literal('public')]),
    client_name: Type.String(),
    redirect_uris: Type.Array(Type.String()),
    post_logout_redirect_uris: Type.Array(Type.String()),
    grant_types: Type.Array(Type.String()),
    response_types: Type.Array(Type.String()),
    scope: Type.String(),
    token_endpoint_auth_method: Type.String(),
    jwks: Type.Optional(Jwks),
    jwks_uri: Type.Optional(Type.String()),
    id_token_signed_response_alg: Type.String(),
    backchannel_logout_uri: Type.Optional(Type.String()),
    require_pushed_authorization_requests: Type.Boolean(),
    skip_consent: Type.Boolean(),
    audience: Type.Optional(Type.String()),
  },
  { description: 'A registered client (RFC 7591 §3.2.1), never its secret' },
);
const WithSecret = Type.Intersect([
  ClientBody,
  Type.Object({
    client_secret: Type.Optional(Type.String({ description: 'Shown this once; only a hash is kept' })),
    client_secret_expires_at: Type.Optional(
      Type.Literal(0, { description: '0: the secret does not expire' }),
    ),
  }),
]);
const SecretBody = Type.Object({
  client_id: Type.String(),
  client_secret: Type.String({ description: 'Shown this once' }),
  client_secret_expires_at: Type.Literal(0),
  previous_secrets_expire_at: Type.Integer({
    description:
      'Seconds since the epoch: the previous secret works until then (GATEHOUSE_CLIENT_SECRET_OVERLAP)',
  }),
});

/** RFC 7591 §3.2.2 for refused metadata; a request the HTTP layer refuses has only `detail`. */
const MetadataError = Type.Object(
  {
    detail: Type.String(),
    error: Type.Optional(Type.String({ description: '`invalid_redirect_uri` or `invalid_client_metadata`' })),
    error_description: Type.Optional(Type.String()),
  },
  { description: 'Refused client metadata (RFC 7591 §3.2.2)' },
);
const failures = { 401: ErrorDetail, 403: ErrorDetail, 422: ValidationErrorBody };
const Params = Type.Object({ client_id: Type.String({ maxLength: 200 }) });

function toMetadataInput(body: MetadataBody): ClientMetadataInput {
  return {
    clientName: body.client_name,
    redirectUris: body.redirect_uris,
    postLogoutRedirectUris: body.post_logout_redirect_uris,
    grantTypes: body.grant_types,
    scope: body.scope,
    tokenEndpointAuthMethod: body.token_endpoint_auth_method,
    jwks: body.jwks,
    jwksUri: body.jwks_uri,
    idTokenSignedResponseAlg: body.id_token_signed_response_alg,
    backchannelLogoutUri: body.backchannel_logout_uri,
    requirePushedAuthorizationRequests: body.require_pushed_authorization_requests,
    skipConsent: body.skip_consent,
    audience: body.audience,
  };
}

export interface ClientRouteOptions {
  readonly clients: ClientService;
  readonly guards: Guards;
}

export const clientRoutes: FastifyPluginAsyncTypebox<ClientRouteOptions> = async (app, options) => {
  const { clients, guards } = options;
  const admin = { tags: ['clients'] };

  app.post(
    '/clients',
    {
      onRequest: guards.requirePermission('clients:write'),
      config: { gatehouse: { noStore: true } },
      schema: {
        ...admin,
        summary: 'Register a client',
        description:
          'RFC 7591 metadata. A confidential client with a secret method gets `client_secret`, shown this once. The scope may hold only permissions your credential holds (403 `PRIVILEGE_ESCALATION`). Refused metadata: 400 `invalid_redirect_uri` or `invalid_client_metadata` (RFC 7591 §3.2.2).',
        body: CreateBody,
        response: { 201: WithSecret, 400: MetadataError, ...failures },
      },
    },
    async (request, reply) => {
      const input = toMetadataInput(request.body);
      const { client, clientSecret } = await clients.register(
        actorOf(request),
        input,
        requestContext(request),
      );
      const secret =
        clientSecret === undefined
          ? {}
          : { client_secret: clientSecret, client_secret_expires_at: 0 as const };
      return reply.code(201).send({ ...clientMetadataJson(client), ...secret });
    },
  );

  app.get(
    '/clients',
    {
      onRequest: guards.requirePermission('clients:read'),
      schema: {
        ...admin,
        summary: 'List clients',
        description: 'Oldest first.',
        response: { 200: Type.Object({ items: Type.Array(ClientBody) }), ...failures },
      },
    },
    async () => ({ items: (await clients.list()).map(clientMetadataJson) }),
  );

  app.get(
    '/clients/:client_id',
    {
      onRequest: guards.requirePermission('clients:read'),
      schema: {
        ...admin,
        summary: 'A client',
        params: Params,
        response: { 200: ClientBody, 404: ErrorDetail, ...failures },
      },
    },
    async (request) => clientMetadataJson(await clients.getOrThrow(request.params.client_id)),
  );

  app.patch(
    '/clients/:client_id',
    {
      onRequest: guards.requirePermission('clients:write'),
      schema: {
        ...admin,
        summary: 'Change a client',
        description:
          'Changes the given fields (`null` clears `jwks`, `jwks_uri`, `backchannel_logout_uri` and `audience`); the whole result must be valid metadata. A client cannot change between public and confidential.',
        params: Params,
        body: PatchBody,
        response: { 200: ClientBody, 400: MetadataError, 404: ErrorDetail, ...failures },
      },
    },
    async (request) => {
      const input = toMetadataInput(request.body);
      const changed = await clients.update(
        actorOf(request),
        request.params.client_id,
        input,
        requestContext(request),
      );
      return clientMetadataJson(changed);
    },
  );

  app.delete(
    '/clients/:client_id',
    {
      onRequest: guards.requirePermission('clients:write'),
      schema: {
        ...admin,
        summary: 'Remove a client',
        description: 'Every session that holds one of its refresh tokens ends.',
        params: Params,
        response: { 204: Type.Null(), 404: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      await clients.remove(actorOf(request), request.params.client_id, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/clients/:client_id/secret',
    {
      onRequest: guards.requirePermission('clients:write'),
      config: { gatehouse: { noStore: true } },
      schema: {
        ...admin,
        summary: "Rotate a client's secret",
        description:
          'A new secret, shown this once. The previous one keeps working until `previous_secrets_expire_at` (GATEHOUSE_CLIENT_SECRET_OVERLAP), then stops. A public client has no secret (400).',
        params: Params,
        response: { 200: SecretBody, 400: MetadataError, 404: ErrorDetail, ...failures },
      },
    },
    async (request) => {
      const rotated = await clients.rotateSecret(
        actorOf(request),
        request.params.client_id,
        requestContext(request),
      );
      return {
        client_id: rotated.client.clientId,
        client_secret: rotated.clientSecret,
        client_secret_expires_at: 0 as const,
        previous_secrets_expire_at: Math.floor(rotated.previousSecretsExpireAt / 1000),
      };
    },
  );
};
