/** The OpenID Connect scopes (Core §5.4, §11) beside Gatehouse's permissions, and the claims they release. */
import type { UserRecord } from '../../store/users.ts';

import { OIDC_SCOPES } from './client-metadata.ts';

export { OIDC_SCOPES };

export function isOidcScope(scope: string): boolean {
  return OIDC_SCOPES.includes(scope);
}

/** The claims `/userinfo` and the ID token may carry. */
export const CLAIMS_SUPPORTED: readonly string[] = [
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'amr',
  'acr',
  'at_hash',
  'sid',
  'name',
  'preferred_username',
  'email',
  'email_verified',
];

/** What the consent screen says each OpenID scope lets the app do. */
export const SCOPE_WORDS: Readonly<Record<string, string>> = {
  openid: 'Know who you are when you sign in',
  profile: 'See your name and username',
  email: 'See your email address and whether it is verified',
  offline_access: 'Stay connected to your account when you are not using the app',
};

export interface UserClaims {
  readonly name?: string;
  readonly preferred_username?: string;
  readonly email?: string;
  readonly email_verified?: boolean;
}

/** The user's claims that the granted scopes release (`profile`, `email`). */
export function userClaims(user: UserRecord, scopes: readonly string[]): UserClaims {
  return {
    ...(scopes.includes('profile')
      ? { preferred_username: user.username, ...(user.fullName ? { name: user.fullName } : {}) }
      : {}),
    ...(scopes.includes('email') ? { email: user.email, email_verified: user.emailVerified } : {}),
  };
}

/** A scope set as stored for consents: sorted, deduplicated, space-separated. */
export function scopeSetKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}
