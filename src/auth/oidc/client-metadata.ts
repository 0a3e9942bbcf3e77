/**
 * RFC 7591 client metadata: defaults and the rules a client is registered by. A refusal is
 * InvalidClientMetadataError with RFC 7591 §3.2.2's `invalid_redirect_uri` or
 * `invalid_client_metadata`.
 */
import { InvalidClientMetadataError } from '../errors.ts';
import { PERMISSION } from '../permissions.ts';
import type { ClientGrantType, RegisteredClient, TokenEndpointAuthMethod } from './client-types.ts';

/** Metadata as an admin gives it (RFC 7591 names in camel case); unset fields take defaults. */
export interface ClientMetadataInput {
  readonly clientName?: string | undefined;
  readonly redirectUris?: readonly string[] | undefined;
  readonly postLogoutRedirectUris?: readonly string[] | undefined;
  readonly grantTypes?: readonly string[] | undefined;
  /** Space-separated, as RFC 7591 §2 `scope`. */
  readonly scope?: string | undefined;
  readonly tokenEndpointAuthMethod?: string | undefined;
  readonly jwks?: unknown;
  readonly jwksUri?: string | null | undefined;
  readonly idTokenSignedResponseAlg?: string | undefined;
  readonly backchannelLogoutUri?: string | null | undefined;
  readonly requirePushedAuthorizationRequests?: boolean | undefined;
  readonly skipConsent?: boolean | undefined;
  readonly audience?: string | null | undefined;
}

/** Metadata after the rules: complete and normalised. */
export type ClientMetadata = Omit<RegisteredClient, 'clientId' | 'type' | 'createdAt'>;

export const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
];
export const GRANT_TYPES: readonly ClientGrantType[] = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
];
export const ID_TOKEN_ALGS: readonly string[] = ['RS256', 'ES256', 'EdDSA'];
/** OpenID Connect's scopes; every other scope is a Gatehouse permission. */
export const OIDC_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access'];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
// RFC 8252 §7.1: a private-use scheme is a reverse domain name (`com.example.app`).
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/;
const MAX_URIS = 20;
const MAX_URI_LENGTH = 2000;

const invalid = (description: string) =>
  new InvalidClientMetadataError('invalid_client_metadata', description);

export function isLoopbackUrl(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * An absolute URI without a fragment (RFC 6749 §3.1.2) or user info: `https`, `http` on a
 * loopback host (RFC 8252 §7.3), or, when `privateUse`, a native app's private-use scheme.
 */
function checkUri(value: unknown, field: string, privateUse: boolean): string {
  const fail = (why: string) =>
    new InvalidClientMetadataError(
      field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata',
      `${field}: ${why}`,
    );
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URI_LENGTH) {
    throw fail(`each must be a URI of at most ${MAX_URI_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fail(`"${value.slice(0, 100)}" is not an absolute URI`);
  }
  if (value.includes('#')) throw fail('a URI must not contain a fragment');
  if (url.username !== '' || url.password !== '') throw fail('a URI must not contain user information');
  if (url.protocol === 'https:' || isLoopbackUrl(url)) return value;
  if (privateUse && PRIVATE_USE_SCHEME.test(url.protocol)) return value;
  throw fail(
    privateUse
      ? 'use https, http on localhost, 127.0.0.1 or [::1], or a reverse-domain scheme such as com.example.app:/callback'
      : 'use https (http only on localhost, 127.0.0.1 or [::1])',
  );
}

function checkUris(values: readonly string[] | undefined, field: string, privateUse: boolean): string[] {
  if (values === undefined) return [];
  if (!Array.isArray(values) || values.length > MAX_URIS) throw invalid(`${field}: at most ${MAX_URIS} URIs`);
  return [...new Set(values.map((value) => checkUri(value, field, privateUse)))];
}

function checkOptionalUri(value: string | null | undefined, field: string): string | undefined {
  return value === undefined || value === null ? undefined : checkUri(value, field, false);
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function checkJwks(value: unknown): ClientMetadata['jwks'] {
  if (value === undefined || value === null) return undefined;
  const keys = (value as { keys?: unknown }).keys;
  if (typeof value !== 'object' || !Array.isArray(keys) || keys.length === 0 || keys.length > 10) {
    throw invalid('jwks: a JWK Set ({"keys": [...]}) of 1 to 10 public keys');
  }
  for (const key of keys as unknown[]) {
    if (typeof key !== 'object' || key === null || Array.isArray(key))
      throw invalid('jwks: each key is a JWK');
    const jwk = key as Record<string, unknown>;
    if (!['RSA', 'EC', 'OKP'].includes(jwk.kty as string)) throw invalid('jwks: keys are RSA, EC or OKP');
    if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) throw invalid('jwks: only public keys');
  }
  return { keys: keys as Record<string, unknown>[] };
}

function checkScopes(scope: string | undefined, grantTypes: readonly ClientGrantType[]): string[] {
  if (scope === undefined) {
    if (!grantTypes.includes('authorization_code')) return [];
    return [
      'openid',
      'profile',
      'email',
      ...(grantTypes.includes('refresh_token') ? ['offline_access'] : []),
    ];
  }
  const scopes = scope.split(' ').filter((token) => token !== '');
  for (const token of scopes) {
    if (!OIDC_SCOPES.includes(token) && !PERMISSION.test(token)) {
      throw invalid(`scope: "${token.slice(0, 40)}" is neither an OpenID Connect scope nor a permission`);
    }
  }
  return [...new Set(scopes)];
}

function checkGrantTypes(
  values: readonly string[] | undefined,
  method: TokenEndpointAuthMethod,
): ClientGrantType[] {
  // RFC 7591 §2: without grant_types the client uses only authorization_code.
  const grantTypes = values ?? ['authorization_code'];
  if (!Array.isArray(grantTypes) || grantTypes.length === 0) throw invalid('grant_types: at least one');
  for (const grant of grantTypes) {
    if (!GRANT_TYPES.includes(grant as ClientGrantType)) {
      throw invalid(`grant_types: "${String(grant).slice(0, 40)}" is not one of ${GRANT_TYPES.join(', ')}`);
    }
  }
  if (method === 'none' && grantTypes.includes('client_credentials')) {
    throw invalid(
      'grant_types: a public client (token_endpoint_auth_method "none") cannot use client_credentials',
    );
  }
  if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code')) {
    throw invalid('grant_types: refresh_token needs authorization_code');
  }
  return [...new Set(grantTypes as ClientGrantType[])];
}

function checkName(name: string | undefined): string {
  const trimmed = name?.trim();
  if (trimmed === undefined || trimmed === '' || trimmed.length > 100 || /\p{Cc}/u.test(trimmed)) {
    throw invalid('client_name: 1 to 100 characters');
  }
  return trimmed;
}

/** The complete metadata of a client registered with `input`; throws InvalidClientMetadataError. */
export function checkClientMetadata(input: ClientMetadataInput): ClientMetadata {
  const method = (input.tokenEndpointAuthMethod ?? 'client_secret_basic') as TokenEndpointAuthMethod;
  if (!AUTH_METHODS.includes(method)) {
    throw invalid(`token_endpoint_auth_method: one of ${AUTH_METHODS.join(', ')}`);
  }
  const grantTypes = checkGrantTypes(input.grantTypes, method);
  const redirectUris = checkUris(input.redirectUris, 'redirect_uris', true);
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new InvalidClientMetadataError(
      'invalid_redirect_uri',
      'redirect_uris: at least one for authorization_code',
    );
  }
  const jwks = checkJwks(input.jwks);
  const jwksUri = checkOptionalUri(input.jwksUri, 'jwks_uri');
  // RFC 7591 §2: jwks and jwks_uri MUST NOT both be present.
  if (jwks !== undefined && jwksUri !== undefined) throw invalid('give jwks or jwks_uri, not both');
  if (method === 'private_key_jwt' && jwks === undefined && jwksUri === undefined) {
    throw invalid("private_key_jwt needs the client's public keys: jwks or jwks_uri");
  }
  if (method !== 'private_key_jwt' && (jwks !== undefined || jwksUri !== undefined)) {
    throw invalid('jwks and jwks_uri are for token_endpoint_auth_method private_key_jwt');
  }
  const alg = input.idTokenSignedResponseAlg ?? 'RS256';
  if (!ID_TOKEN_ALGS.includes(alg))
    throw invalid(`id_token_signed_response_alg: one of ${ID_TOKEN_ALGS.join(', ')}`);
  const audience = input.audience ?? undefined;
  if (audience !== undefined && (audience === '' || audience.length > 200 || /[\p{Cc}\s]/u.test(audience))) {
    throw invalid('audience: 1 to 200 characters without spaces');
  }
  return {
    clientName: checkName(input.clientName),
    redirectUris,
    postLogoutRedirectUris: checkUris(input.postLogoutRedirectUris, 'post_logout_redirect_uris', true),
    grantTypes,
    scopes: checkScopes(input.scope, grantTypes),
    tokenEndpointAuthMethod: method,
    jwks,
    jwksUri,
    idTokenSignedResponseAlg: alg,
    backchannelLogoutUri: checkOptionalUri(input.backchannelLogoutUri, 'backchannel_logout_uri'),
    requirePushedAuthorizationRequests: input.requirePushedAuthorizationRequests ?? false,
    skipConsent: input.skipConsent ?? false,
    audience,
  };
}

/** The scopes of a client that are Gatehouse permissions (the privilege ceiling's concern). */
export function permissionScopes(scopes: readonly string[]): string[] {
  return scopes.filter((scope) => !OIDC_SCOPES.includes(scope));
}

/** RFC 7591 §2 metadata in its own names, plus `client_id`, `client_id_issued_at` and Gatehouse's fields. */
export interface ClientMetadataJson {
  client_id: string;
  client_id_issued_at: number;
  client_type: 'confidential' | 'public';
  client_name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  scope: string;
  token_endpoint_auth_method: string;
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  id_token_signed_response_alg: string;
  backchannel_logout_uri?: string;
  require_pushed_authorization_requests: boolean;
  skip_consent: boolean;
  audience?: string;
}

/** A client as RFC 7591 §3.2.1 shows it (the admin API and `gatehouse clients`), never its secret. */
export function clientMetadataJson(client: RegisteredClient): ClientMetadataJson {
  return {
    client_id: client.clientId,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    client_type: client.type,
    client_name: client.clientName,
    redirect_uris: [...client.redirectUris],
    post_logout_redirect_uris: [...client.postLogoutRedirectUris],
    grant_types: [...client.grantTypes],
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    scope: client.scopes.join(' '),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(client.jwks ? { jwks: { keys: [...client.jwks.keys] } } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri } : {}),
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests,
    skip_consent: client.skipConsent,
    ...(client.audience ? { audience: client.audience } : {}),
  };
}
