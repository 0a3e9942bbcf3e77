/** The UserInfo endpoint (OpenID Connect Core §5.3): the user's claims by the access token's scopes. */
import type { AccountService } from '../accounts.ts';
import { InsufficientScopeError, InvalidTokenError } from '../errors.ts';
import type { RevocationState } from '../revocation.ts';
import type { SessionService } from '../sessions.ts';
import type { TokenService } from '../tokens.ts';
import { type UserClaims, userClaims } from './scopes.ts';

export interface UserInfoDeps {
  readonly tokens: TokenService;
  readonly accounts: Pick<AccountService, 'findUser'>;
  readonly revocation: RevocationState;
  readonly sessions: Pick<SessionService, 'isRevokedInStore'>;
}

export async function userInfo(
  deps: UserInfoDeps,
  accessToken: string,
): Promise<UserClaims & { sub: string }> {
  // Any audience: a client's token names its resource server, and /userinfo is the provider's own.
  const claims = deps.tokens.verifyAccessToken(accessToken, null);
  if (claims.sid !== undefined) {
    const revoked =
      deps.revocation.isSessionRevoked(claims.sid) ||
      (!deps.revocation.isComplete() && (await deps.sessions.isRevokedInStore(claims.sid)));
    if (revoked) throw new InvalidTokenError('session revoked');
  }
  const scopes = (claims.scope ?? '').split(' ');
  if (!scopes.includes('openid')) throw new InsufficientScopeError(['openid']);
  const user = await deps.accounts.findUser(claims.sub);
  if (user === undefined || user.disabled) throw new InvalidTokenError('user gone');
  return { sub: user.id, ...userClaims(user, scopes) };
}
