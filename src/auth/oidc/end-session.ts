/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the browser's Gatehouse
 * session, and with it the client sessions issued from it (their refresh and access tokens) and
 * the clients' back-channel logouts (`store/sessions.ts` `revokeSessions`).
 *
 * The rules that keep it safe:
 * - `post_logout_redirect_uri` is followed only when it exactly matches one the client registered,
 *   and the client is known from a valid `id_token_hint` or from `client_id` (§3): never an open
 *   redirect.
 * - Without a valid hint for the current session, nothing ends until the user confirms on a page
 *   whose form carries the session's CSRF token (§2, "the OP SHOULD ask the End-User"): a
 *   cross-site link cannot sign anyone out silently.
 */
import { compactVerify, createLocalJWKSet } from 'jose';
import type { ID_TOKEN_ALGORITHMS, KeySet } from '../key-set.ts';
import type { RequestContext } from '../request-context.ts';
import type { BrowserSession } from './authorize.ts';
import type { ClientDirectory, RegisteredClient } from './client-types.ts';

export type EndSessionOutcome =
  /** Where to send the browser: the client's registered URI (with `state`), or undefined: the signed-out page. */
  | { readonly kind: 'done'; readonly location: string | undefined }
  | {
      readonly kind: 'confirm';
      readonly clientName: string | undefined;
      /** What the confirmation form posts back (`client_id`, `post_logout_redirect_uri`, `state`). */
      readonly parameters: Readonly<Record<string, string>>;
    };

export interface EndSessionDeps {
  readonly issuer: string;
  readonly keys: KeySet;
  readonly algorithms: typeof ID_TOKEN_ALGORITHMS;
  readonly clients: Pick<ClientDirectory, 'find'>;
  logout(sessionId: string, userId: string, ctx: RequestContext): Promise<void>;
}

interface Hint {
  readonly clientIds: readonly string[];
  readonly sub: string | undefined;
  readonly sid: string | undefined;
}

/**
 * The ID token hint, checked by signature (the provider's keys), type and issuer. An expired one is
 * accepted (§2: "the OP need not be concerned with whether it is expired"); anything else is
 * treated as no hint.
 */
async function readHint(deps: EndSessionDeps, token: string | undefined): Promise<Hint | undefined> {
  if (token === undefined || token.length > 8192) return undefined;
  try {
    const jwks = createLocalJWKSet(deps.keys.publicJwks());
    const { payload, protectedHeader } = await compactVerify(token, jwks, {
      algorithms: [...deps.algorithms],
    });
    // An ID token (`JWT`): never an access token (`at+jwt`) or a logout token (`logout+jwt`).
    if (protectedHeader.typ !== 'JWT') return undefined;
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    if (claims.iss !== deps.issuer) return undefined;
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    return {
      clientIds: aud.filter((value): value is string => typeof value === 'string'),
      sub: typeof claims.sub === 'string' ? claims.sub : undefined,
      sid: typeof claims.sid === 'string' ? claims.sid : undefined,
    };
  } catch {
    return undefined;
  }
}

/** The client the request names: from the hint's `aud`, else `client_id`. */
async function clientOf(
  deps: EndSessionDeps,
  hint: Hint | undefined,
  clientId: string | undefined,
): Promise<RegisteredClient | undefined> {
  const id = (hint?.clientIds.length === 1 ? hint.clientIds[0] : undefined) ?? clientId;
  return id === undefined || id.length > 128 ? undefined : deps.clients.find(id);
}

function redirectOf(
  client: RegisteredClient | undefined,
  uri: string | undefined,
  state: string | undefined,
): string | undefined {
  if (client === undefined || uri === undefined || !client.postLogoutRedirectUris.includes(uri)) {
    return undefined;
  }
  const url = new URL(uri);
  if (state !== undefined) url.searchParams.append('state', state);
  return url.href;
}

const param = (params: Readonly<Record<string, string>>, name: string) =>
  params[name] === undefined || params[name] === '' ? undefined : params[name];

/** `GET /logout`: end the session at once (a valid hint for it), ask first, or only redirect. */
export async function endSession(
  deps: EndSessionDeps,
  params: Readonly<Record<string, string>>,
  browser: BrowserSession | undefined,
  ctx: RequestContext,
): Promise<EndSessionOutcome> {
  const given = await readHint(deps, param(params, 'id_token_hint'));
  const clientId = param(params, 'client_id');
  // §2: a `client_id` must be the hint's audience; when they disagree, neither is trusted.
  const agree = given === undefined || clientId === undefined || given.clientIds.includes(clientId);
  const hint = agree ? given : undefined;
  const client = agree ? await clientOf(deps, hint, clientId) : undefined;
  const uri = param(params, 'post_logout_redirect_uri');
  const state = param(params, 'state');
  const location = redirectOf(client, uri, state);
  if (browser === undefined) return { kind: 'done', location };
  if (hint?.sid === browser.sessionId && hint.sub === browser.userId) {
    await deps.logout(browser.sessionId, browser.userId, ctx);
    return { kind: 'done', location };
  }
  const parameters: Record<string, string> = {};
  if (client !== undefined) parameters.client_id = client.clientId;
  if (location !== undefined && uri !== undefined) parameters.post_logout_redirect_uri = uri;
  if (location !== undefined && state !== undefined) parameters.state = state;
  return { kind: 'confirm', clientName: client?.clientName, parameters };
}

/** The confirmation page's post (CSRF-checked by the route): ends the session, then redirects. */
export async function confirmEndSession(
  deps: EndSessionDeps,
  params: Readonly<Record<string, string>>,
  browser: BrowserSession,
  ctx: RequestContext,
): Promise<EndSessionOutcome> {
  const client = await clientOf(deps, undefined, param(params, 'client_id'));
  await deps.logout(browser.sessionId, browser.userId, ctx);
  return {
    kind: 'done',
    location: redirectOf(client, param(params, 'post_logout_redirect_uri'), param(params, 'state')),
  };
}
