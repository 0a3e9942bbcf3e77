/**
 * Pushed authorization requests (RFC 9126): the client sends the request over an authenticated
 * back channel, is given a `request_uri` good for 60 seconds and one answer, and sends the
 * browser to `/authorize` with only that and its `client_id`.
 */
import { deleteExpiredPushedRequests, insertPushedRequest } from '../../store/oidc-provider.ts';
import { AuthorizationRequestError } from '../errors.ts';
import type { RequestContext } from '../request-context.ts';
import { hashSecret, randomSecret } from '../secrets.ts';
import {
  REQUEST_URI_PREFIX,
  RedirectableError,
  type RequestReaderDeps,
  validateParameters,
} from './authorization-request.ts';
import type { PresentedClientCredentials } from './client-types.ts';
import { isRegisteredRedirectUri } from './redirect-uri.ts';

export const PUSHED_REQUEST_TTL_SECONDS = 60;

/** Client-authentication fields of the form that are not part of the authorization request. */
const CREDENTIAL_FIELDS = ['client_secret', 'client_assertion', 'client_assertion_type'];

export async function pushAuthorizationRequest(
  deps: RequestReaderDeps & { readonly parEndpoint: string },
  presented: PresentedClientCredentials,
  form: Readonly<Record<string, string>>,
  ctx: RequestContext,
): Promise<{ requestUri: string; expiresInSeconds: number }> {
  const client = await deps.clients.authenticate(presented, deps.parEndpoint, ctx);
  if (form.request_uri !== undefined) {
    throw new AuthorizationRequestError('invalid_request', 'request_uri cannot be pushed');
  }
  if (form.client_id !== undefined && form.client_id !== client.clientId) {
    throw new AuthorizationRequestError('invalid_request', 'client_id is not the authenticated client');
  }
  const parameters = Object.fromEntries(
    Object.entries({ ...form, client_id: client.clientId }).filter(
      ([name]) => !CREDENTIAL_FIELDS.includes(name),
    ),
  );
  if (
    parameters.redirect_uri === undefined ||
    !isRegisteredRedirectUri(client.redirectUris, parameters.redirect_uri)
  ) {
    throw new AuthorizationRequestError(
      'invalid_request',
      'The redirect_uri is missing or not registered for this client',
    );
  }
  try {
    validateParameters(deps, client, parameters);
  } catch (error) {
    if (error instanceof RedirectableError) throw new AuthorizationRequestError(error.error, error.message);
    throw error;
  }
  const secret = randomSecret();
  const now = deps.now();
  await deleteExpiredPushedRequests(deps.db, now);
  await insertPushedRequest(deps.db, {
    idHash: hashSecret(secret),
    clientId: client.clientId,
    parameters,
    createdAt: now,
    expiresAt: now + PUSHED_REQUEST_TTL_SECONDS * 1000,
  });
  return { requestUri: `${REQUEST_URI_PREFIX}${secret}`, expiresInSeconds: PUSHED_REQUEST_TTL_SECONDS };
}
