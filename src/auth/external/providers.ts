/**
 * The configured external providers. OpenID Connect providers (Google, and each generic one) are
 * discovered from their issuer on first use; GitHub is plain OAuth 2.0 with fixed endpoints. The
 * protocol is openid-client's (PKCE, state, nonce, RFC 9207 `iss`); the ID token is verified again
 * here with jose against the provider's JWKS, with an algorithm allow-list (RFC 8725 §3.1), since
 * openid-client trusts an ID token received over TLS from the token endpoint without its signature.
 */
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { Config } from '../../config.ts';

/** The settings of external sign-in. */
export type ExternalSettings = Pick<
  Config,
  | 'googleClientId'
  | 'googleClientSecret'
  | 'googleIssuer'
  | 'githubClientId'
  | 'githubClientSecret'
  | 'githubUrl'
  | 'githubApiUrl'
  | 'oidcProviders'
  | 'oauthStoreTokens'
  | 'encryptionKeys'
>;

/** Asymmetric algorithms only: a symmetric one would make the client secret a signing key. */
export const ID_TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
const CLOCK_TOLERANCE_SECONDS = 30;
const HTTP_TIMEOUT_SECONDS = 10;

export interface ExternalProvider {
  /** In URLs and the `identities` table: `google`, `github`, or a generic provider's name in lower case. */
  readonly name: string;
  readonly displayName: string;
  readonly kind: 'oidc' | 'github';
  /** The client id the browser flow uses; ID tokens for any of `clientIds` are accepted. */
  readonly clientIds: readonly string[];
  /** Whether the provider's "verified" mark on an address may link to, or claim, a local account. */
  readonly trustEmail: boolean;
  readonly scopes: readonly string[];
  /** GitHub: its REST API base. */
  readonly apiUrl?: string;
  /** The openid-client configuration (discovered once, again after a failure). */
  configuration(): Promise<oidc.Configuration>;
  /** Verifies an ID token of this provider: signature by its JWKS, issuer, audience, expiry. */
  verifyIdToken(token: string, now: number): Promise<JWTPayload>;
}

const isLocalHttp = (url: string) => new URL(url).protocol === 'http:';

function discovered(
  issuer: string,
  clientId: string,
  clientSecret: string,
): () => Promise<oidc.Configuration> {
  let pending: Promise<oidc.Configuration> | undefined;
  return () => {
    pending ??= oidc
      .discovery(new URL(issuer), clientId, clientSecret, undefined, {
        timeout: HTTP_TIMEOUT_SECONDS,
        ...(isLocalHttp(issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        pending = undefined;
        throw error;
      });
    return pending;
  };
}

function oidcProvider(
  fields: Pick<ExternalProvider, 'name' | 'displayName' | 'clientIds' | 'trustEmail' | 'scopes'>,
  issuer: string,
  clientSecret: string,
  /** Issuers an ID token may name besides the discovered one (Google's documented `accounts.google.com`). */
  alsoIssuers: readonly string[] = [],
): ExternalProvider {
  const configuration = discovered(issuer, fields.clientIds[0] as string, clientSecret);
  let jwks: JWTVerifyGetKey | undefined;
  return {
    ...fields,
    kind: 'oidc',
    configuration,
    async verifyIdToken(token, now) {
      const metadata = (await configuration()).serverMetadata();
      if (metadata.jwks_uri === undefined) throw new Error('the provider publishes no jwks_uri');
      jwks ??= createRemoteJWKSet(new URL(metadata.jwks_uri), {
        timeoutDuration: HTTP_TIMEOUT_SECONDS * 1000,
      });
      const { payload } = await jwtVerify(token, jwks, {
        algorithms: ID_TOKEN_ALGORITHMS,
        issuer: [metadata.issuer, ...alsoIssuers],
        audience: [...fields.clientIds],
        currentDate: new Date(now),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      return payload;
    },
  };
}

function githubProvider(
  settings: ExternalSettings,
  clientId: string,
  clientSecret: string,
): ExternalProvider {
  const config = new oidc.Configuration(
    {
      issuer: settings.githubUrl,
      authorization_endpoint: `${settings.githubUrl}/login/oauth/authorize`,
      token_endpoint: `${settings.githubUrl}/login/oauth/access_token`,
    },
    clientId,
    clientSecret,
  );
  config.timeout = HTTP_TIMEOUT_SECONDS;
  if (isLocalHttp(settings.githubUrl)) oidc.allowInsecureRequests(config);
  return {
    name: 'github',
    displayName: 'GitHub',
    kind: 'github',
    clientIds: [clientId],
    // Only the primary address, and only when GitHub marks it verified (see github.ts).
    trustEmail: true,
    scopes: ['read:user', 'user:email'],
    apiUrl: settings.githubApiUrl,
    configuration: async () => config,
    verifyIdToken: async () => {
      throw new Error('GitHub issues no ID tokens');
    },
  };
}

const capitalize = (name: string) => name.charAt(0).toUpperCase() + name.slice(1);

/** Every configured provider, Google and GitHub first, then the generic ones by name. */
export function createProviderRegistry(settings: ExternalSettings): ReadonlyMap<string, ExternalProvider> {
  const providers = new Map<string, ExternalProvider>();
  const [googleId] = settings.googleClientId;
  if (googleId !== undefined && settings.googleClientSecret !== undefined) {
    const alsoIssuers =
      settings.googleIssuer === 'https://accounts.google.com' ? ['accounts.google.com'] : [];
    providers.set(
      'google',
      oidcProvider(
        {
          name: 'google',
          displayName: 'Google',
          clientIds: settings.googleClientId,
          trustEmail: true,
          scopes: ['openid', 'email', 'profile'],
        },
        settings.googleIssuer,
        settings.googleClientSecret,
        alsoIssuers,
      ),
    );
  }
  if (settings.githubClientId !== undefined && settings.githubClientSecret !== undefined) {
    providers.set('github', githubProvider(settings, settings.githubClientId, settings.githubClientSecret));
  }
  for (const [name, options] of Object.entries(settings.oidcProviders)) {
    const scopes = new Set(['openid', ...(options.scopes ?? ['email', 'profile'])]);
    providers.set(
      name,
      oidcProvider(
        {
          name,
          displayName: options.displayName ?? capitalize(name),
          clientIds: [options.clientId],
          trustEmail: options.trustEmail === true,
          scopes: [...scopes],
        },
        options.issuer,
        options.clientSecret,
      ),
    );
  }
  return providers;
}
