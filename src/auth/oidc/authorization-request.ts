/**
 * Reading an authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1), directly or
 * from a pushed request (RFC 9126). What is wrong before the client and its redirect URI are
 * known is thrown as AuthorizationRequestError (shown, never redirected); what is wrong after is
 * a RedirectableError, answered at the redirect URI.
 */
import type { Kysely } from 'kysely';
import { findPushedRequest } from '../../store/oidc-provider.ts';
import type { Database } from '../../store/schema.ts';
import { AuthorizationRequestError, MFA_ACR } from '../errors.ts';
import { parseScope } from '../scopes.ts';
import { hashSecret } from '../secrets.ts';
import type { RegisteredClient } from './client-types.ts';
import type { ClientService } from './clients.ts';
import { isRegisteredRedirectUri } from './redirect-uri.ts';

export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
export const PROMPT_VALUES = ['none', 'login', 'consent'] as const;
type Prompt = (typeof PROMPT_VALUES)[number];

export interface AuthorizationRequest {
  readonly client: RegisteredClient;
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly nonce: string | undefined;
  readonly scopes: readonly string[];
  readonly codeChallenge: string;
  readonly prompt: ReadonlySet<Prompt>;
  readonly maxAgeSeconds: number | undefined;
  readonly loginHint: string | undefined;
  /** `urn:gatehouse:acr:mfa` was asked for: the session must have a second factor. */
  readonly requiresMfa: boolean;
  /** The access token's `aud`: the `resource` asked for, else the client's, else the server's. */
  readonly audience: string;
  /** The parameters that name this request again (after sign-in, on the consent form). */
  readonly replay: Readonly<Record<string, string>>;
  /** The pushed request this came from, spent when the request is answered. */
  readonly pushedIdHash: string | undefined;
}

/** A refusal the client hears at its redirect URI (RFC 6749 §4.1.2.1). */
export class RedirectableError extends Error {
  readonly error: string;
  constructor(error: string, description: string) {
    super(description);
    this.error = error;
  }
}

export interface RequestReaderDeps {
  readonly db: Kysely<Database>;
  readonly clients: Pick<ClientService, 'find' | 'authenticate'>;
  /** The server's access-token audience. */
  readonly audience: string;
  now(): number;
}

const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const MAX_PARAM = 2048;

/** Validates the request's parameters for `client` once its redirect URI is known to be registered. */
export function validateParameters(
  deps: Pick<RequestReaderDeps, 'audience'>,
  client: RegisteredClient,
  params: Readonly<Record<string, string>>,
): Omit<AuthorizationRequest, 'client' | 'redirectUri' | 'state' | 'replay' | 'pushedIdHash'> {
  if (params.request !== undefined)
    throw new RedirectableError('request_not_supported', 'request objects are not supported');
  if (params.response_type !== 'code') {
    throw new RedirectableError('unsupported_response_type', 'response_type must be code');
  }
  if (params.response_mode !== undefined && params.response_mode !== 'query') {
    throw new RedirectableError('invalid_request', 'response_mode must be query');
  }
  if (!client.grantTypes.includes('authorization_code')) {
    throw new RedirectableError('unauthorized_client', 'the client may not use the authorization code grant');
  }
  // OAuth 2.1 §4.1.1: PKCE for every client, and only S256 (a plain challenge is the verifier).
  if (params.code_challenge === undefined)
    throw new RedirectableError('invalid_request', 'code_challenge is required (PKCE)');
  if (params.code_challenge_method !== 'S256') {
    throw new RedirectableError('invalid_request', 'code_challenge_method must be S256');
  }
  if (!CODE_CHALLENGE.test(params.code_challenge))
    throw new RedirectableError('invalid_request', 'malformed code_challenge');
  const scopes = parseScope(params.scope) ?? [];
  const beyond = scopes.filter((scope) => !client.scopes.includes(scope));
  if (beyond.length > 0)
    throw new RedirectableError('invalid_scope', `scope not allowed for this client: ${beyond.join(' ')}`);
  const prompt = new Set((params.prompt ?? '').split(' ').filter(Boolean)) as Set<Prompt>;
  if ([...prompt].some((value) => !PROMPT_VALUES.includes(value))) {
    throw new RedirectableError('invalid_request', 'prompt may be none, login or consent');
  }
  if (prompt.has('none') && prompt.size > 1)
    throw new RedirectableError('invalid_request', 'prompt=none stands alone');
  let maxAgeSeconds: number | undefined;
  if (params.max_age !== undefined) {
    if (!/^\d{1,9}$/.test(params.max_age))
      throw new RedirectableError('invalid_request', 'max_age must be a number of seconds');
    maxAgeSeconds = Number(params.max_age);
  }
  // RFC 8707: the client's own audience or the server's; anything else is not ours to mint for.
  const allowed = [client.audience ?? deps.audience, deps.audience];
  if (params.resource !== undefined && !allowed.includes(params.resource)) {
    throw new RedirectableError(
      'invalid_target',
      'resource must be the audience registered for the client or this server',
    );
  }
  return {
    nonce: params.nonce,
    scopes,
    codeChallenge: params.code_challenge,
    prompt,
    maxAgeSeconds,
    loginHint: params.login_hint,
    requiresMfa: (params.acr_values ?? '').split(' ').includes(MFA_ACR),
    audience: params.resource ?? client.audience ?? deps.audience,
  };
}

/** The parameters of a request, with those of its pushed request when it names one. */
async function parametersOf(
  deps: RequestReaderDeps,
  client: RegisteredClient,
  raw: Readonly<Record<string, string>>,
): Promise<{ params: Readonly<Record<string, string>>; pushedIdHash: string | undefined }> {
  const requestUri = raw.request_uri;
  if (requestUri === undefined) {
    if (client.requirePushedAuthorizationRequests) {
      throw new AuthorizationRequestError(
        'invalid_request',
        'This client must push its authorization requests (PAR)',
      );
    }
    return { params: raw, pushedIdHash: undefined };
  }
  if (!requestUri.startsWith(REQUEST_URI_PREFIX)) {
    throw new AuthorizationRequestError('invalid_request_uri', 'Unknown request_uri');
  }
  const idHash = hashSecret(requestUri.slice(REQUEST_URI_PREFIX.length));
  const pushed = await findPushedRequest(deps.db, idHash);
  if (
    pushed === undefined ||
    pushed.clientId !== client.clientId ||
    pushed.usedAt !== null ||
    pushed.expiresAt <= deps.now()
  ) {
    throw new AuthorizationRequestError(
      'invalid_request_uri',
      'The request_uri is unknown, expired or already used',
    );
  }
  return { params: pushed.parameters, pushedIdHash: idHash };
}

/** Reads and checks an authorization request; see the module comment for how failures are told. */
export async function readAuthorizationRequest(
  deps: RequestReaderDeps,
  raw: Readonly<Record<string, string>>,
): Promise<
  | { request: AuthorizationRequest }
  | { error: RedirectableError; redirectUri: string; state: string | undefined }
> {
  if (Object.values(raw).some((value) => value.length > MAX_PARAM)) {
    throw new AuthorizationRequestError('invalid_request', 'A parameter is too long');
  }
  if (raw.client_id === undefined)
    throw new AuthorizationRequestError('invalid_request', 'client_id is required');
  const client = await deps.clients.find(raw.client_id);
  if (client === undefined) throw new AuthorizationRequestError('invalid_client', 'Unknown client');
  const { params, pushedIdHash } = await parametersOf(deps, client, raw);
  const redirectUri = params.redirect_uri;
  if (redirectUri === undefined || !isRegisteredRedirectUri(client.redirectUris, redirectUri)) {
    throw new AuthorizationRequestError(
      'invalid_request',
      'The redirect_uri is missing or not registered for this client',
    );
  }
  const state = params.state;
  try {
    const checked = validateParameters(deps, client, params);
    const replay =
      pushedIdHash === undefined
        ? raw
        : { client_id: client.clientId, request_uri: raw.request_uri as string };
    return { request: { ...checked, client, redirectUri, state, replay, pushedIdHash } };
  } catch (error) {
    if (!(error instanceof RedirectableError)) throw error;
    return { error, redirectUri, state };
  }
}
