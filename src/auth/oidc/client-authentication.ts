/**
 * Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3):
 * `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523 §3, OpenID Connect
 * Core §9) and `none` for public clients. A client must use exactly its registered method, and
 * only one method per request (RFC 6749 §2.3). Failures are throttled like passwords.
 */
import { createHash } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Clock } from '../../clock.ts';
import type { Store } from '../../store/db.ts';
import { rememberUsedIdToken } from '../../store/external-flows.ts';
import { InvalidClientError } from '../errors.ts';
import type { LoginAttempt, LoginThrottle } from '../login-throttle.ts';
import { NO_REQUEST, type RequestContext } from '../request-context.ts';
import { secretMatches } from '../secrets.ts';
import { CLOCK_SKEW_SECONDS } from '../tokens.ts';
import type {
  PresentedClientCredentials,
  RegisteredClient,
  TokenEndpointAuthMethod,
} from './client-types.ts';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** RFC 7523 §3: an assertion is short-lived; we take none that lives longer than this. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** The algorithms a `private_key_jwt` assertion may be signed with (never `none` or an HMAC). */
export const ASSERTION_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
/** The methods a confidential client may authenticate with at introspection and revocation. */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
const MAX_CLIENT_ID = 200;

interface Presented {
  readonly method: TokenEndpointAuthMethod;
  readonly clientId: string;
  readonly secret?: string;
  readonly assertion?: string;
  readonly usedBasic: boolean;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are put in the Basic header. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function parseBasic(header: string): { id: string; secret: string } | undefined {
  const match = /^basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return id === undefined || secret === undefined ? undefined : { id, secret };
}

/** Which method the request used, and the client it names; InvalidClientError when unclear. */
export function presentedMethod(presented: PresentedClientCredentials): Presented {
  const basicHeader = /^basic /i.test(presented.authorization ?? '') ? presented.authorization : undefined;
  const usedBasic = basicHeader !== undefined;
  const refuse = (reason: string) => new InvalidClientError(reason, usedBasic);
  const used = [
    usedBasic,
    presented.clientSecret !== undefined,
    presented.clientAssertion !== undefined || presented.clientAssertionType !== undefined,
  ].filter(Boolean).length;
  if (used > 1) throw refuse('more than one authentication method');
  let found: Presented;
  if (basicHeader !== undefined) {
    const basic = parseBasic(basicHeader);
    if (basic === undefined) throw refuse('malformed Basic credentials');
    found = { method: 'client_secret_basic', clientId: basic.id, secret: basic.secret, usedBasic };
  } else if (presented.clientSecret !== undefined) {
    if (presented.clientId === undefined) throw refuse('client_secret without client_id');
    found = {
      method: 'client_secret_post',
      clientId: presented.clientId,
      secret: presented.clientSecret,
      usedBasic,
    };
  } else if (presented.clientAssertion !== undefined || presented.clientAssertionType !== undefined) {
    if (presented.clientAssertionType !== JWT_BEARER_ASSERTION || presented.clientAssertion === undefined) {
      throw refuse('unsupported client_assertion_type');
    }
    let subject: unknown;
    try {
      // Only to know whose keys to verify it with; nothing is trusted before jwtVerify.
      subject = decodeJwt(presented.clientAssertion).sub;
    } catch {
      throw refuse('malformed client_assertion');
    }
    if (typeof subject !== 'string') throw refuse('client_assertion without sub');
    found = { method: 'private_key_jwt', clientId: subject, assertion: presented.clientAssertion, usedBasic };
  } else {
    if (presented.clientId === undefined) throw refuse('no client credentials');
    found = { method: 'none', clientId: presented.clientId, usedBasic };
  }
  // A client_id beside other credentials must name the same client (RFC 7523 §3, RFC 6749 §3.2.1).
  if (presented.clientId !== undefined && presented.clientId !== found.clientId)
    throw refuse('client_id mismatch');
  if (found.clientId === '' || found.clientId.length > MAX_CLIENT_ID) throw refuse('bad client_id');
  return found;
}

export interface ClientAuthenticationDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly throttle: LoginThrottle;
  readonly issuer: string;
  readonly findClient: (clientId: string) => Promise<RegisteredClient | undefined>;
  readonly secretHashesOf: (clientId: string) => Promise<readonly string[]>;
}

export function createClientAuthentication(deps: ClientAuthenticationDeps) {
  const { store, clock, throttle } = deps;
  const remoteKeySets = new Map<string, JWTVerifyGetKey>();

  function keysOf(client: RegisteredClient): JWTVerifyGetKey {
    if (client.jwks !== undefined)
      return createLocalJWKSet(client.jwks as Parameters<typeof createLocalJWKSet>[0]);
    const uri = client.jwksUri as string;
    let keySet = remoteKeySets.get(uri);
    if (keySet === undefined) {
      if (remoteKeySets.size >= 1000) remoteKeySets.clear();
      keySet = createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      remoteKeySets.set(uri, keySet);
    }
    return keySet;
  }

  async function checkAssertion(
    client: RegisteredClient,
    assertion: string,
    endpointUrl: string,
  ): Promise<string | undefined> {
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(assertion, keysOf(client), {
        algorithms: ASSERTION_ALGORITHMS,
        issuer: client.clientId,
        subject: client.clientId,
        audience: [endpointUrl, deps.issuer],
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: new Date(clock.now()),
      }));
    } catch (error) {
      return `client_assertion refused: ${(error as { code?: string }).code ?? 'invalid'}`;
    }
    const now = clock.now();
    const expMs = (payload.exp as number) * 1000;
    if (expMs > now + (MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) * 1000)
      return 'client_assertion lives too long';
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti === '' || jti.length > 256) return 'client_assertion jti missing';
    // RFC 7523 §3 (7): a jti is used once, in every process, until the assertion expires.
    const key = `client_assertion:${createHash('sha256').update(`${client.clientId}\n${jti}`).digest('base64url')}`;
    const expiresAt = expMs + CLOCK_SKEW_SECONDS * 1000;
    const fresh = await rememberUsedIdToken(store.db, key, expiresAt, now, store.isUniqueViolation);
    return fresh ? undefined : 'client_assertion replayed';
  }

  async function secretMatchesAny(clientId: string, secret: string): Promise<boolean> {
    let matched = false;
    // Every live secret is compared, so the time does not tell which one matched.
    for (const hash of await deps.secretHashesOf(clientId)) if (secretMatches(secret, hash)) matched = true;
    return matched;
  }

  return async function authenticate(
    presented: PresentedClientCredentials,
    endpointUrl: string,
    ctx: RequestContext = NO_REQUEST,
  ): Promise<RegisteredClient> {
    const found = presentedMethod(presented);
    const attempt: LoginAttempt = {
      userId: null,
      loginKey: `client:${found.clientId}`,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    };
    // A public client proves nothing, so there is nothing to guess and nothing to throttle.
    const proves = found.method !== 'none';
    // LoginThrottledError (429, Retry-After) once this client has failed too often from here.
    if (proves) await throttle.admit(attempt);
    const client = await deps.findClient(found.clientId);
    let failure: string | undefined;
    if (client === undefined) failure = 'unknown client';
    else if (client.tokenEndpointAuthMethod !== found.method)
      failure = `registered ${client.tokenEndpointAuthMethod}, used ${found.method}`;
    else if (found.secret !== undefined && !(await secretMatchesAny(client.clientId, found.secret)))
      failure = 'wrong secret';
    else if (found.assertion !== undefined)
      failure = await checkAssertion(client, found.assertion, endpointUrl);
    if (client === undefined || failure !== undefined) {
      if (proves) await throttle.recordFailure(attempt);
      throw new InvalidClientError(failure ?? 'unknown client', found.usedBasic);
    }
    if (proves) await throttle.recordSuccess(attempt);
    return client;
  };
}
