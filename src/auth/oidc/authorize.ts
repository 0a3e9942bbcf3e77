/**
 * The authorization endpoint's decisions (RFC 6749 §4.1, OpenID Connect Core §3.1.2): sign in
 * first, ask for consent, or answer the client with a code, at its redirect URI with `state` and
 * `iss` (RFC 9207). One browser session serves every client (single sign-on).
 */
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../../store/audit.ts';
import {
  deleteExpiredAuthorizationCodes,
  insertAuthorizationCode,
  insertConsent,
  listConsentedScopes,
  spendPushedRequest,
} from '../../store/oidc-provider.ts';
import type { Database } from '../../store/schema.ts';
import { auditSource, type RequestContext } from '../request-context.ts';
import { hashSecret, randomSecret } from '../secrets.ts';
import {
  type AuthorizationRequest,
  RedirectableError,
  type RequestReaderDeps,
  readAuthorizationRequest,
} from './authorization-request.ts';
import { isOidcScope, scopeSetKey } from './scopes.ts';

/** A query parameter Gatehouse adds to the return path after sign-in: when the sign-in was asked (ms). */
export const LOGIN_AFTER_PARAM = 'gatehouse_login_after';
export const CODE_TTL_MS = 60_000;
/** How long a spent or expired code is kept, so that a replay still revokes what it gave. */
export const CODE_RETAIN_MS = 10 * 60_000;

/** The browser's Gatehouse session (the cookie), when there is one. */
export interface BrowserSession {
  readonly userId: string;
  readonly sessionId: string;
  readonly authTimeMs: number;
  readonly amr: readonly string[] | undefined;
}

export type AuthorizeOutcome =
  | { readonly kind: 'redirect'; readonly location: string }
  | {
      readonly kind: 'login';
      /** The parameters to come back to `/authorize` with once signed in. */
      readonly returnParameters: Readonly<Record<string, string>>;
      readonly clientName: string;
      readonly loginHint: string | undefined;
    }
  | {
      readonly kind: 'consent';
      readonly clientName: string;
      readonly scopes: readonly string[];
      /** The parameters the consent form posts back (`/authorize/consent`). */
      readonly parameters: Readonly<Record<string, string>>;
      /** Where the answer goes (the page's CSP `form-action` must allow it). */
      readonly redirectUri: string;
    };

export interface AuthorizeDeps extends RequestReaderDeps {
  readonly issuer: string;
  /** The permissions the user holds now: permission scopes beyond them are left out of the grant. */
  permissionsOfUser(userId: string): Promise<ReadonlySet<string> | undefined>;
}

function responseLocation(
  issuer: string,
  redirectUri: string,
  fields: Record<string, string | undefined>,
): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(fields))
    if (value !== undefined) url.searchParams.append(name, value);
  url.searchParams.append('iss', issuer);
  return url.href;
}

async function errorAt(
  deps: AuthorizeDeps,
  request: Pick<AuthorizationRequest, 'redirectUri' | 'state' | 'pushedIdHash'>,
  error: RedirectableError,
): Promise<AuthorizeOutcome> {
  if (request.pushedIdHash !== undefined) await spendPushedRequest(deps.db, request.pushedIdHash, deps.now());
  const location = responseLocation(deps.issuer, request.redirectUri, {
    error: error.error,
    error_description: error.message,
    state: request.state,
  });
  return { kind: 'redirect', location };
}

async function issueCode(
  deps: AuthorizeDeps,
  request: AuthorizationRequest,
  browser: BrowserSession,
  ctx: RequestContext,
): Promise<AuthorizeOutcome> {
  const now = deps.now();
  const held = (await deps.permissionsOfUser(browser.userId)) ?? new Set<string>();
  const granted = request.scopes.filter((scope) => isOidcScope(scope) || held.has(scope));
  const code = randomSecret();
  const issued = await deps.db.transaction().execute(async (trx: Kysely<Database>) => {
    // A pushed request answers once, even to two tabs racing (RFC 9126 §4).
    if (request.pushedIdHash !== undefined && !(await spendPushedRequest(trx, request.pushedIdHash, now))) {
      return false;
    }
    await deleteExpiredAuthorizationCodes(trx, now - CODE_RETAIN_MS);
    await insertAuthorizationCode(trx, {
      codeHash: hashSecret(code),
      clientId: request.client.clientId,
      userId: browser.userId,
      browserSessionId: browser.sessionId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      nonce: request.nonce ?? null,
      scope: granted.join(' '),
      audience: request.audience,
      authTime: browser.authTimeMs,
      amr: browser.amr,
      createdAt: now,
      expiresAt: now + CODE_TTL_MS,
    });
    await recordAuditEvent(trx, {
      event: 'oauth.code_issued',
      at: now,
      userId: browser.userId,
      sessionId: browser.sessionId,
      ...auditSource(ctx),
      details: { client_id: request.client.clientId, scope: granted.join(' ') },
    });
    return true;
  });
  if (!issued) {
    const spent = new RedirectableError('invalid_request', 'the request_uri was already used');
    return errorAt(deps, { ...request, pushedIdHash: undefined }, spent);
  }
  return {
    kind: 'redirect',
    location: responseLocation(deps.issuer, request.redirectUri, { code, state: request.state }),
  };
}

async function hasConsent(
  deps: AuthorizeDeps,
  request: AuthorizationRequest,
  userId: string,
): Promise<boolean> {
  if (request.client.skipConsent) return true;
  const wanted = request.scopes;
  const given = await listConsentedScopes(deps.db, userId, request.client.clientId);
  return given.some((set) => {
    const scopes = set === '' ? [] : set.split(' ');
    return wanted.every((scope) => scopes.includes(scope));
  });
}

/** Why the browser must sign in (again) first, or undefined when its session will do. */
function signInNeeded(
  request: AuthorizationRequest,
  browser: BrowserSession | undefined,
  loginAfterMs: number | undefined,
  nowMs: number,
): RedirectableError | undefined {
  if (browser === undefined) return new RedirectableError('login_required', 'the user is not signed in');
  const freshSignIn = loginAfterMs !== undefined && browser.authTimeMs > loginAfterMs;
  if (request.prompt.has('login') && !freshSignIn) {
    return new RedirectableError('login_required', 'the client asked for a new sign-in');
  }
  if (request.maxAgeSeconds !== undefined && nowMs - browser.authTimeMs > request.maxAgeSeconds * 1000) {
    return new RedirectableError('login_required', 'the sign-in is older than max_age');
  }
  if (request.requiresMfa && !browser.amr?.includes('mfa')) {
    // Signed in again and still one factor: the account has no second one to ask for.
    return freshSignIn
      ? new RedirectableError('access_denied', 'a second factor is required and the account has none')
      : new RedirectableError('interaction_required', 'the client asked for a second factor');
  }
  return undefined;
}

export async function authorize(
  deps: AuthorizeDeps,
  rawWithMarker: Readonly<Record<string, string>>,
  browser: BrowserSession | undefined,
  ctx: RequestContext,
): Promise<AuthorizeOutcome> {
  const { [LOGIN_AFTER_PARAM]: loginAfter, ...raw } = rawWithMarker;
  const read = await readAuthorizationRequest(deps, raw);
  if ('error' in read) return errorAt(deps, { ...read, pushedIdHash: undefined }, read.error);
  const { request } = read;
  const loginAfterMs =
    loginAfter !== undefined && /^\d{1,15}$/.test(loginAfter) ? Number(loginAfter) : undefined;
  const needed = signInNeeded(request, browser, loginAfterMs, deps.now());
  if (needed !== undefined || browser === undefined) {
    if (request.prompt.has('none'))
      return errorAt(deps, request, needed ?? new RedirectableError('login_required', ''));
    if (needed?.error === 'access_denied') return errorAt(deps, request, needed);
    return {
      kind: 'login',
      returnParameters: { ...request.replay, [LOGIN_AFTER_PARAM]: String(deps.now()) },
      clientName: request.client.clientName,
      loginHint: request.loginHint,
    };
  }
  if (request.prompt.has('consent') || !(await hasConsent(deps, request, browser.userId))) {
    if (request.prompt.has('none')) {
      return errorAt(deps, request, new RedirectableError('consent_required', 'the user has not consented'));
    }
    return {
      kind: 'consent',
      clientName: request.client.clientName,
      scopes: request.scopes,
      parameters: request.replay,
      redirectUri: request.redirectUri,
    };
  }
  return issueCode(deps, request, browser, ctx);
}

/** The consent form's answer: remember it and answer with a code, or `access_denied`. */
export async function decideConsent(
  deps: AuthorizeDeps,
  raw: Readonly<Record<string, string>>,
  browser: BrowserSession,
  allow: boolean,
  ctx: RequestContext,
): Promise<AuthorizeOutcome> {
  const read = await readAuthorizationRequest(deps, raw);
  if ('error' in read) return errorAt(deps, { ...read, pushedIdHash: undefined }, read.error);
  const { request } = read;
  if (!allow)
    return errorAt(deps, request, new RedirectableError('access_denied', 'the user denied the request'));
  const now = deps.now();
  await deps.db.transaction().execute(async (trx: Kysely<Database>) => {
    await insertConsent(trx, {
      userId: browser.userId,
      clientId: request.client.clientId,
      scope: scopeSetKey(request.scopes),
      grantedAt: now,
    });
    await recordAuditEvent(trx, {
      event: 'oauth.consent_granted',
      at: now,
      userId: browser.userId,
      sessionId: browser.sessionId,
      ...auditSource(ctx),
      details: { client_id: request.client.clientId, scope: scopeSetKey(request.scopes) },
    });
  });
  return issueCode(deps, request, browser, ctx);
}
