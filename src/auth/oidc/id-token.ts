/** OpenID Connect ID tokens (Core §2, §3.1.3.6): signed with the client's registered algorithm. */
import { createHash } from 'node:crypto';
import type { UserRecord } from '../../store/users.ts';
import { MFA_ACR } from '../errors.ts';
import type { ID_TOKEN_ALGORITHMS, KeySet } from '../key-set.ts';
import { signCompactJws } from '../tokens.ts';
import { userClaims } from './scopes.ts';

type IdTokenAlgorithm = (typeof ID_TOKEN_ALGORITHMS)[number];

/** `at_hash`: the left half of the access token's hash by the JWS algorithm's hash (Core §3.1.3.6). */
export function accessTokenHash(accessToken: string, alg: IdTokenAlgorithm): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256')
    .update(accessToken, 'ascii')
    .digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export interface IdTokenInput {
  readonly issuer: string;
  readonly clientId: string;
  readonly alg: string;
  readonly user: UserRecord;
  readonly scopes: readonly string[];
  readonly authTimeMs: number;
  readonly amr: readonly string[] | undefined;
  readonly nonce: string | null | undefined;
  /** The browser session the sign-in happened in (`sid`, for logout). */
  readonly sid: string;
  readonly accessToken: string;
  readonly nowMs: number;
  readonly ttlSeconds: number;
}

export async function signIdToken(keys: KeySet, input: IdTokenInput): Promise<string> {
  const alg = (['RS256', 'EdDSA', 'ES256'].includes(input.alg) ? input.alg : 'RS256') as IdTokenAlgorithm;
  const key = (await keys.ring(alg)).activeKey();
  const iat = Math.floor(input.nowMs / 1000);
  return signCompactJws(key, 'JWT', {
    iss: input.issuer,
    sub: input.user.id,
    aud: input.clientId,
    exp: iat + input.ttlSeconds,
    iat,
    auth_time: Math.floor(input.authTimeMs / 1000),
    ...(input.nonce ? { nonce: input.nonce } : {}),
    ...(input.amr ? { amr: [...input.amr] } : {}),
    ...(input.amr?.includes('mfa') ? { acr: MFA_ACR } : {}),
    at_hash: accessTokenHash(input.accessToken, alg),
    sid: input.sid,
    ...userClaims(input.user, input.scopes),
  });
}
