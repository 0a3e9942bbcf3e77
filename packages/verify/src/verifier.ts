import { createRemoteJWKSet, jwtVerify } from 'jose';
import { invalidToken, notAuthenticated, VerifyError } from './errors.ts';
import {
  authorizationOf,
  type HeadersLike,
  principalOf,
  type TokenPrincipal,
  type VerifiedClaims,
} from './principal.ts';
import { type Guards, guardsOf, type Requirement, refusalOf } from './requirements.ts';

export interface VerifierOptions {
  readonly issuer: string;
  /** Defaults to the issuer, as on the server. */
  readonly audience?: string;
  /** Defaults to `${issuer}/.well-known/jwks.json`. */
  readonly jwksUri?: string;
  /** Algorithms to accept; default the asymmetric ones Gatehouse signs with. */
  readonly algorithms?: readonly string[];
  /**
   * Milliseconds after a JWKS fetch during which an unknown `kid` does not trigger another fetch
   * (jose's default, 30 s). Tokens from a key rotated in within that window are refused until it
   * passes.
   */
  readonly cooldownDuration?: number;
  /** Time source for `exp`, `nbf` and `auth_time` checks (tests); default the system clock. */
  readonly clock?: { now(): number };
}

/** The answer to a request, as the server would give it. */
export type RequestVerdict =
  | { readonly ok: true; readonly principal: TokenPrincipal | null }
  | {
      readonly ok: false;
      readonly status: 401 | 403;
      readonly headers: {
        readonly 'content-type': 'application/json; charset=utf-8';
        readonly 'www-authenticate': string;
      };
      readonly body: { readonly detail: string; readonly code?: string };
      readonly error: VerifyError;
    };

/** The request and reply of a Fastify `onRequest` hook, as far as the guards use them. */
export interface HookRequest {
  readonly headers: HeadersLike;
  tokenPrincipal?: TokenPrincipal | null;
}
export interface HookReply {
  code(statusCode: number): HookReply;
  header(name: string, value: string): HookReply;
  send(payload?: unknown): unknown;
}
/**
 * A Fastify `onRequest` hook. Typed without Fastify so the core never needs it; import
 * `@gatehouse/verify/fastify` for `request.tokenPrincipal` on Fastify's types.
 */
export type Hook = (request: HookRequest, reply: HookReply) => Promise<void>;
export type VerifierGuards = Guards<Hook>;

export interface Verifier {
  /** Resolves with the claims of a valid access token; rejects with a VerifyError (401). */
  verify(token: string): Promise<VerifiedClaims>;
  /**
   * The caller of a Node or Fetch request: null when it sends no bearer token; rejects with a
   * VerifyError (401) for a bad one.
   */
  principal(request: { readonly headers: HeadersLike }): Promise<TokenPrincipal | null>;
  /**
   * Checks a request's headers against `requirement` (default: any valid token) and never
   * rejects for a client's fault: `{ ok: true, principal }`, or the server's refusal (`status`,
   * `headers`, `body`) ready to send.
   */
  verifyRequest(headers: HeadersLike, requirement?: Requirement): Promise<RequestVerdict>;
  /** Fastify `onRequest` hooks that set `request.tokenPrincipal` and answer 401/403 as the server does. */
  readonly guards: VerifierGuards;
}

const MAX_TOKEN_BYTES = 8192;
const BEARER = /^Bearer[ ]+([^ ]+)[ ]*$/i;

/**
 * A verifier for one Gatehouse issuer. Keys come from its JWKS, fetched, cached and refetched on
 * an unknown `kid` by jose, so rotation is followed. The checks are the server's: the algorithm
 * allowlist, `typ: at+jwt`, `iss`, `aud`, `exp`, 30 s of skew.
 *
 * @throws {TypeError} when `issuer` is missing.
 * @example
 * const verifier = createVerifier({ issuer: 'https://auth.example.com' });
 * const verdict = await verifier.verifyRequest(request.headers, { scopes: ['reports:read'] });
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options?.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('createVerifier: option "issuer" must be the Gatehouse issuer URL');
  }
  const issuer = options.issuer.replace(/\/+$/, '');
  const jwks = createRemoteJWKSet(
    new URL(options.jwksUri ?? `${issuer}/.well-known/jwks.json`),
    options.cooldownDuration !== undefined ? { cooldownDuration: options.cooldownDuration } : {},
  );
  const algorithms = [...(options.algorithms ?? ['EdDSA', 'ES256', 'RS256'])];
  const encoder = new TextEncoder();

  async function verify(token: string): Promise<VerifiedClaims> {
    if (encoder.encode(token).byteLength > MAX_TOKEN_BYTES) throw invalidToken();
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience: options.audience ?? issuer,
        algorithms,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'sub'],
        clockTolerance: 30,
        ...(options.clock ? { currentDate: new Date(options.clock.now()) } : {}),
      });
      return payload as VerifiedClaims;
    } catch {
      throw invalidToken();
    }
  }

  async function principalFrom(headers: HeadersLike): Promise<TokenPrincipal | null> {
    const header = authorizationOf(headers);
    if (header === undefined) return null;
    const token = BEARER.exec(header)?.[1];
    if (!token) throw notAuthenticated();
    return principalOf(await verify(token));
  }

  async function verifyRequest(headers: HeadersLike, requirement: Requirement = {}): Promise<RequestVerdict> {
    try {
      const principal = await principalFrom(headers);
      const refused = refusalOf(principal, requirement, options.clock?.now() ?? Date.now());
      if (refused) throw refused;
      return { ok: true, principal };
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      return {
        ok: false,
        status: error.status,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'www-authenticate': error.wwwAuthenticate,
        },
        // The code is said where the server says it: REAUTH_REQUIRED tells the client to step up.
        body:
          error.code === 'REAUTH_REQUIRED' || error.code === 'MFA_STEP_UP_REQUIRED'
            ? { detail: error.message, code: error.code }
            : { detail: error.message },
        error,
      };
    }
  }

  const guards = guardsOf<Hook>((requirement) => async (request, reply) => {
    const verdict = await verifyRequest(request.headers, requirement);
    if (!verdict.ok) {
      reply
        .code(verdict.status)
        .header('www-authenticate', verdict.headers['www-authenticate'])
        .send(verdict.body);
      return;
    }
    request.tokenPrincipal = verdict.principal;
  });

  return {
    verify,
    principal: (request) => principalFrom(request.headers),
    verifyRequest,
    guards,
  };
}
