/**
 * RFC 9068 JWT access tokens. Verification follows jose's order — algorithm allowlist, then
 * signature, then claims (RFC 8725 §3.1) — synchronously with node:crypto, and remembers tokens
 * it has verified (keyed by a hash of the token) so a client reusing its token pays one
 * signature check per token, not per request.
 */
import { hash, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { InvalidTokenError, MFA_ACR } from './errors.ts';
import type { KeyRing, SigningKey } from './keys.ts';

export const MAX_TOKEN_BYTES = 8192;
export const CLOCK_SKEW_SECONDS = 30;
export const DEFAULT_CLIENT_ID = 'gatehouse';

export interface AccessTokenClaims {
  readonly iss: string;
  readonly aud: string | string[];
  readonly sub: string;
  readonly client_id: string;
  /** Absent from a client's own token (`client_credentials`: `sub` is the client id). */
  readonly preferred_username?: string;
  readonly roles: string[];
  readonly scope: string;
  readonly sid?: string;
  /** RFC 9470 §3 / OIDC Core §2: when the user last proved a credential in this session (seconds). */
  readonly auth_time?: number;
  /** RFC 8176 methods the session was proven with (`pwd`, `otp`, `hwk`, `mfa`, `ext`, …). */
  readonly amr?: string[];
  /** `urn:gatehouse:acr:mfa` when two factors were proven (RFC 9470 §3). */
  readonly acr?: string;
  /** The external provider of an external sign-in (`amr` then includes `ext`). */
  readonly provider?: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly nbf?: number;
}

export interface IssueAccessTokenInput {
  /** The user, or the client itself for `client_credentials`. */
  readonly userId: string;
  readonly username: string | undefined;
  readonly roles: readonly string[];
  readonly scope: string;
  readonly clientId?: string;
  /** The session the token belongs to (`sid` claim); revoking the session revokes the token. */
  readonly sessionId?: string;
  /** When the user last proved a credential in that session (ms); a refresh passes the session's on. */
  readonly authTimeMs?: number;
  /** RFC 8176 methods of the session; `mfa` among them makes the `acr` the MFA one. */
  readonly amr?: readonly string[];
  /** The external provider the user signed in with (`amr: ["ext"]` and `provider` claims). */
  readonly externalProvider?: string;
  /** RFC 8707 / a client's audience; default the server's audience. */
  readonly audience?: string | undefined;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly expiresInSeconds: number;
  readonly claims: AccessTokenClaims;
}

export interface TokenServiceOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly cacheSize: number;
}

export interface TokenService {
  issueAccessToken(input: IssueAccessTokenInput): IssuedAccessToken;
  /**
   * Returns the claims of a valid token; throws InvalidTokenError otherwise. The token's `aud`
   * must name the server's audience, or `audience` when given (`null`: any audience, for the
   * provider's own endpoints such as `/userinfo`).
   */
  verifyAccessToken(token: string, audience?: string | null): AccessTokenClaims;
}

/** A compact JWS signed by `key` (node:crypto, synchronously). */
export function signCompactJws(key: SigningKey, typ: string, claims: object): string {
  const signingInput = `${encodeSegment({ alg: key.alg, typ, kid: key.kid })}.${encodeSegment(claims)}`;
  return `${signingInput}.${key.sign(Buffer.from(signingInput, 'ascii')).toString('base64url')}`;
}

function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  if (!BASE64URL.test(segment)) throw new InvalidTokenError(`${what} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTokenError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidTokenError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function createTokenService(keys: KeyRing, clock: Clock, options: TokenServiceOptions): TokenService {
  const cache = new Map<string, AccessTokenClaims>();

  function checkClaims(payload: Record<string, unknown>): AccessTokenClaims {
    const nowSeconds = Math.floor(clock.now() / 1000);
    if (!isNumericDate(payload.exp)) throw new InvalidTokenError('exp missing');
    if (payload.exp <= nowSeconds - CLOCK_SKEW_SECONDS) throw new InvalidTokenError('expired');
    if (
      payload.nbf !== undefined &&
      (!isNumericDate(payload.nbf) || payload.nbf > nowSeconds + CLOCK_SKEW_SECONDS)
    ) {
      throw new InvalidTokenError('not yet valid');
    }
    if (!isNumericDate(payload.iat) || payload.iat > nowSeconds + CLOCK_SKEW_SECONDS) {
      throw new InvalidTokenError('iat missing or in the future');
    }
    if (payload.iss !== options.issuer) throw new InvalidTokenError('wrong issuer');
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidTokenError('sub missing');
    if (typeof payload.scope !== 'string' && payload.scope !== undefined)
      throw new InvalidTokenError('bad scope');
    if (
      payload.roles !== undefined &&
      !(Array.isArray(payload.roles) && payload.roles.every((r) => typeof r === 'string'))
    ) {
      throw new InvalidTokenError('bad roles');
    }
    return payload as unknown as AccessTokenClaims;
  }

  function verifyUncached(token: string): AccessTokenClaims {
    const parts = token.split('.');
    if (parts.length !== 3) throw new InvalidTokenError('not a compact JWS');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decodeSegment(headerPart, 'header');
    // RFC 8725 §3.1: only the configured algorithm; this also refuses "none" and HS256 with a public key.
    if (header.alg !== keys.alg) throw new InvalidTokenError('algorithm not allowed');
    // RFC 9068 §4: the typ must say this is an access token.
    if (typeof header.typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(header.typ)) {
      throw new InvalidTokenError('wrong typ');
    }
    // RFC 7515 §4.1.11: we understand no critical extensions.
    if (header.crit !== undefined) throw new InvalidTokenError('unsupported crit');
    if (typeof header.kid !== 'string') throw new InvalidTokenError('kid missing');
    const key = keys.findVerificationKey(header.kid);
    if (key === undefined) throw new InvalidTokenError('unknown kid');
    if (!BASE64URL.test(signaturePart)) throw new InvalidTokenError('signature is not base64url');
    const signed = Buffer.from(`${headerPart}.${payloadPart}`, 'ascii');
    if (!key.verify(signed, Buffer.from(signaturePart, 'base64url')))
      throw new InvalidTokenError('bad signature');
    return checkClaims(decodeSegment(payloadPart, 'payload'));
  }

  function checkAudience(claims: AccessTokenClaims, audience: string | null | undefined): void {
    if (audience === null) return;
    const expected = audience ?? options.audience;
    const aud = claims.aud;
    if (!(Array.isArray(aud) ? aud.includes(expected) : aud === expected)) {
      throw new InvalidTokenError('wrong audience');
    }
  }

  function remember(cacheKey: string, claims: AccessTokenClaims): void {
    if (options.cacheSize === 0) return;
    if (cache.size >= options.cacheSize) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(cacheKey, claims);
  }

  return {
    issueAccessToken(input) {
      const key = keys.activeKey();
      const iat = Math.floor(clock.now() / 1000);
      const claims: AccessTokenClaims = {
        iss: options.issuer,
        aud: input.audience ?? options.audience,
        sub: input.userId,
        client_id: input.clientId ?? DEFAULT_CLIENT_ID,
        ...(input.username === undefined ? {} : { preferred_username: input.username }),
        roles: [...input.roles],
        scope: input.scope,
        ...(input.sessionId ? { sid: input.sessionId } : {}),
        ...(input.authTimeMs !== undefined ? { auth_time: Math.floor(input.authTimeMs / 1000) } : {}),
        ...(input.amr || input.externalProvider
          ? { amr: [...new Set([...(input.amr ?? []), ...(input.externalProvider ? ['ext'] : [])])] }
          : {}),
        ...(input.amr?.includes('mfa') ? { acr: MFA_ACR } : {}),
        ...(input.externalProvider ? { provider: input.externalProvider } : {}),
        jti: randomUUID(),
        iat,
        exp: iat + options.ttlSeconds,
      };
      const token = signCompactJws(key, 'at+jwt', claims);
      return { token, expiresInSeconds: options.ttlSeconds, claims };
    },

    verifyAccessToken(token, audience) {
      // Checked on the string before any parsing (length in UTF-16 units ≤ bytes for ASCII tokens).
      if (token.length > MAX_TOKEN_BYTES || Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) {
        throw new InvalidTokenError('token too large');
      }
      // One-shot hash: no Hash object per request.
      const cacheKey = hash('sha256', token, 'base64url');
      const cached = cache.get(cacheKey);
      if (cached !== undefined) {
        if (cached.exp > Math.floor(clock.now() / 1000) - CLOCK_SKEW_SECONDS) {
          checkAudience(cached, audience);
          return cached;
        }
        cache.delete(cacheKey);
        throw new InvalidTokenError('expired');
      }
      const claims = verifyUncached(token);
      // Remembered before the audience check: the signature and times hold whatever it names.
      remember(cacheKey, claims);
      checkAudience(claims, audience);
      return claims;
    },
  };
}
