import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { EmailFlowService } from '../../auth/email-flows.ts';
import { UnsupportedGrantTypeError } from '../../auth/errors.ts';
import type { ExternalSignInService } from '../../auth/external/sign-in.ts';
import type { FactorService } from '../../auth/factors/factors.ts';
import type { OpenIdProvider } from '../../auth/oidc/provider.ts';
import type { SessionService } from '../../auth/sessions.ts';
import { presentedClientCredentials } from '../client-credentials.ts';
import { HttpClientError } from '../errors.ts';
import { requestContext } from '../request-context.ts';
import { OAuthError, ValidationErrorBody } from '../schemas.ts';
import { MfaChallengeBody, secondStepGrant } from './mfa.ts';

/** A grant of our own for the token of an emailed sign-in link (RFC 6749 §4.5 extension grant). */
export const MAGIC_LINK_GRANT = 'urn:gatehouse:grant-type:magic-link';
/** RFC 8693: a provider's ID token (from its own SDK, in a native or single-page app) for our tokens. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

const TokenForm = Type.Object({
  grant_type: Type.Optional(
    Type.String({
      maxLength: 100,
      description: `\`password\` (may be omitted), \`refresh_token\`, \`${MAGIC_LINK_GRANT}\` or \`${TOKEN_EXCHANGE_GRANT}\``,
    }),
  ),
  username: Type.Optional(Type.String({ maxLength: 320, description: 'Password grant: username or email' })),
  password: Type.Optional(Type.String({ maxLength: 1024, description: 'Password grant' })),
  refresh_token: Type.Optional(Type.String({ maxLength: 8192, description: 'Refresh grant' })),
  token: Type.Optional(
    Type.String({ maxLength: 200, description: 'Magic-link grant: the token of the link' }),
  ),
  mfa_token: Type.Optional(
    Type.String({ maxLength: 200, description: 'Second-step grants: from the 403 `mfa_required`' }),
  ),
  otp: Type.Optional(
    Type.String({ maxLength: 20, description: "`…:mfa-otp`: the authenticator app's code" }),
  ),
  recovery_code: Type.Optional(Type.String({ maxLength: 40, description: '`…:mfa-recovery-code`' })),
  assertion: Type.Optional(
    Type.String({
      maxLength: 20_000,
      description: '`…:mfa-webauthn` and `…:webauthn`: the AuthenticationResponseJSON',
    }),
  ),
  subject_token: Type.Optional(
    Type.String({ maxLength: 16384, description: "Token-exchange grant: the provider's ID token" }),
  ),
  subject_token_type: Type.Optional(
    Type.String({ maxLength: 100, description: `Token-exchange grant: \`${ID_TOKEN_TYPE}\`` }),
  ),
  provider: Type.Optional(
    Type.String({ maxLength: 40, description: 'Token-exchange grant: `google` or a generic provider' }),
  ),
  scope: Type.Optional(Type.String({ maxLength: 2000, description: 'Space-separated scopes to request' })),
  client_id: Type.Optional(Type.String({ maxLength: 200 })),
  client_secret: Type.Optional(Type.String({ maxLength: 200 })),
  code: Type.Optional(Type.String({ maxLength: 200, description: 'authorization_code: the code' })),
  redirect_uri: Type.Optional(Type.String({ maxLength: 2048, description: 'authorization_code' })),
  code_verifier: Type.Optional(Type.String({ maxLength: 200, description: 'authorization_code: PKCE' })),
  resource: Type.Optional(Type.String({ maxLength: 2048, description: 'client_credentials: RFC 8707' })),
  client_assertion_type: Type.Optional(Type.String({ maxLength: 200 })),
  client_assertion: Type.Optional(Type.String({ maxLength: 8192, description: 'private_key_jwt' })),
});

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.Optional(
    Type.String({
      description:
        'Opaque, single use: each refresh returns a new one (to a client only with `offline_access`)',
    }),
  ),
  scope: Type.String({ description: 'The granted scopes, space-separated' }),
  id_token: Type.Optional(Type.String({ description: 'OpenID Connect: with the `openid` scope' })),
});

type TokenFormBody = Static<typeof TokenForm>;

/** The grant's fields; every one missing is reported at once, as FastAPI does. */
function required<K extends keyof TokenFormBody>(body: TokenFormBody, ...fields: K[]): Record<K, string> {
  const missing = fields.filter((field) => body[field] === undefined);
  if (missing.length > 0) {
    throw new HttpClientError(
      422,
      'Field required',
      missing.map((field) => ({ loc: ['body', field], msg: 'Field required', type: 'missing' })),
    );
  }
  return body as Record<K, string>;
}

export interface TokenRouteOptions {
  readonly sessions: SessionService;
  readonly emailFlows: EmailFlowService;
  readonly factors: FactorService;
  readonly externalSignIn: ExternalSignInService;
  /** The OpenID Provider's grants: authorization_code, a client's refresh_token, client_credentials. */
  readonly oidc: OpenIdProvider;
}

export const tokenRoutes: FastifyPluginAsyncTypebox<TokenRouteOptions> = async (app, options) => {
  const { sessions, emailFlows, externalSignIn } = options;
  app.post(
    '/token',
    {
      config: { gatehouse: { oauthErrors: true, noStore: true, rateLimit: 'token' } },
      schema: {
        summary: 'OAuth2 token endpoint: password (RFC 6749 §4.3) and refresh_token (§6) grants',
        description:
          'Exchange a username (or email) and password, or a refresh token, for a bearer access token and a new refresh token.',
        tags: ['auth'],
        consumes: ['application/x-www-form-urlencoded'],
        body: TokenForm,
        response: {
          200: TokenResponse,
          400: OAuthError,
          401: OAuthError,
          403: MfaChallengeBody,
          422: ValidationErrorBody,
        },
      },
      preValidation: async (request) => {
        if (!request.headers['content-type']?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
          throw new HttpClientError(415, 'Send the token request as application/x-www-form-urlencoded');
        }
      },
    },
    async (request) => {
      const body = request.body;
      const ctx = requestContext(request);
      const grantType = body.grant_type ?? 'password';
      let result: {
        accessToken: string;
        expiresInSeconds: number;
        refreshToken: string | undefined;
        scope: string;
        idToken?: string | undefined;
      };
      const client = presentedClientCredentials(request, body);
      if (grantType === 'authorization_code') {
        const form = { code: body.code, redirectUri: body.redirect_uri, codeVerifier: body.code_verifier };
        result = await options.oidc.exchangeAuthorizationCode(client, form, ctx);
      } else if (grantType === 'client_credentials') {
        const form = { scope: body.scope, resource: body.resource };
        result = await options.oidc.issueClientCredentials(client, form, ctx);
      } else if (grantType === 'password') {
        const { username, password } = required(body, 'username', 'password');
        const grant = { scope: body.scope, clientId: body.client_id };
        result = (await sessions.loginWithPassword(username, password, grant, ctx)).tokens;
      } else if (grantType === 'refresh_token') {
        const token = required(body, 'refresh_token').refresh_token;
        result =
          (await options.oidc.refreshClientToken(client, token, body.scope, ctx)) ??
          (await sessions.refresh(token, body.scope, ctx));
      } else if (grantType === MAGIC_LINK_GRANT) {
        result = await emailFlows.signInWithMagicLinkTokens(
          required(body, 'token').token,
          body.scope,
          body.client_id,
          ctx,
        );
      } else if (grantType === TOKEN_EXCHANGE_GRANT) {
        const fields = required(body, 'subject_token', 'subject_token_type', 'provider');
        if (fields.subject_token_type !== ID_TOKEN_TYPE) {
          throw new HttpClientError(400, `subject_token_type must be ${ID_TOKEN_TYPE}`);
        }
        result = await externalSignIn.exchangeIdToken(
          fields.provider,
          fields.subject_token,
          body.scope,
          body.client_id,
          ctx,
        );
      } else {
        const second = await secondStepGrant({ sessions, factors: options.factors }, grantType, body, ctx);
        if (second === undefined) throw new UnsupportedGrantTypeError(grantType);
        result = second;
      }
      return {
        access_token: result.accessToken,
        token_type: 'bearer' as const,
        expires_in: result.expiresInSeconds,
        ...(result.refreshToken === undefined ? {} : { refresh_token: result.refreshToken }),
        scope: result.scope,
        ...(result.idToken === undefined ? {} : { id_token: result.idToken }),
      };
    },
  );
};
