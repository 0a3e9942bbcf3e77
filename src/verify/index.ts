/**
 * `gatehouse/verify`: token verification for services that only check tokens. No database:
 * keys come from the issuer's JWKS (cached and refreshed by jose).
 *
 * @example
 * const verify = createVerifier({ issuer: 'https://auth.example.com', audience: 'https://auth.example.com' });
 * const claims = await verify(request.headers.authorization?.slice(7) ?? '');
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';

export interface VerifierOptions {
  readonly issuer: string;
  /** Defaults to the issuer, as on the server. */
  readonly audience?: string;
  /** Defaults to `${issuer}/.well-known/jwks.json`. */
  readonly jwksUri?: string;
  /** Algorithms to accept; default the asymmetric ones Gatehouse signs with. */
  readonly algorithms?: readonly string[];
}

export interface VerifiedClaims extends JWTPayload {
  readonly sub: string;
  readonly scope?: string;
  readonly roles?: string[];
  readonly preferred_username?: string;
  readonly client_id?: string;
}

/** Returns a function that resolves with the claims of a valid access token or rejects (jose errors). */
export function createVerifier(options: VerifierOptions): (token: string) => Promise<VerifiedClaims> {
  if (typeof options?.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('createVerifier: option "issuer" must be the Gatehouse issuer URL');
  }
  const issuer = options.issuer.replace(/\/+$/, '');
  const jwks = createRemoteJWKSet(new URL(options.jwksUri ?? `${issuer}/.well-known/jwks.json`));
  const algorithms = [...(options.algorithms ?? ['EdDSA', 'ES256', 'RS256'])];
  return async (token) => {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience: options.audience ?? issuer,
      algorithms,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: 30,
    });
    return payload as VerifiedClaims;
  };
}
