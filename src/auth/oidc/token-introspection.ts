/**
 * Token introspection (RFC 7662) and revocation (RFC 7009) for registered clients. Both endpoints
 * authenticate the client first; only confidential clients may introspect, public ones may revoke. A client sees and revokes only its own tokens: a token issued
 * to another client is `active: false` to it (unless the token's audience is the caller's
 * registered `audience`: a resource server registered as a client may introspect the tokens meant
 * for it), and its revocation request is answered 200 without effect (RFC 7009 §2.1).
 */
import type { Clock } from '../../clock.ts';
import { recordAuditEvent } from '../../store/audit.ts';
import type { Store } from '../../store/db.ts';
import { findRefreshToken, findSession, revokeSessions } from '../../store/sessions.ts';
import type { AccountService } from '../accounts.ts';
import { InvalidClientError, InvalidTokenError } from '../errors.ts';
import { auditSource, NO_REQUEST, type RequestContext } from '../request-context.ts';
import type { RevocationState } from '../revocation.ts';
import { secretMatches, splitOpaqueToken } from '../secrets.ts';
import type { SessionService } from '../sessions.ts';
import type { AccessTokenClaims, TokenService } from '../tokens.ts';
import type { ClientDirectory, PresentedClientCredentials, RegisteredClient } from './client-types.ts';

/** RFC 7662 §2.2: `active`, and for an active token what it is. */
export interface IntrospectionResponse {
  readonly active: boolean;
  readonly scope?: string;
  readonly client_id?: string;
  readonly username?: string;
  readonly token_type?: 'Bearer' | 'refresh_token';
  readonly exp?: number;
  readonly iat?: number;
  readonly nbf?: number;
  readonly sub?: string;
  readonly aud?: string | string[];
  readonly iss?: string;
  readonly jti?: string;
}

export interface TokenIntrospectionService {
  /** RFC 7662: authenticates the client (InvalidClientError), then describes the token. */
  introspect(
    presented: PresentedClientCredentials,
    endpointUrl: string,
    token: string,
    tokenTypeHint: string | undefined,
    ctx?: RequestContext,
  ): Promise<IntrospectionResponse>;
  /**
   * RFC 7009: authenticates the client (InvalidClientError), then revokes the token if it is the
   * client's: a refresh token ends its session (the whole family), and so does an access token
   * that belongs to a session. Unknown, invalid or foreign tokens are left alone, without error.
   */
  revoke(
    presented: PresentedClientCredentials,
    endpointUrl: string,
    token: string,
    tokenTypeHint: string | undefined,
    ctx?: RequestContext,
  ): Promise<void>;
}

export interface TokenIntrospectionDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly clients: ClientDirectory & {
    authenticate(p: PresentedClientCredentials, url: string, ctx?: RequestContext): Promise<RegisteredClient>;
  };
  readonly tokens: TokenService;
  readonly sessions: SessionService;
  readonly accounts: AccountService;
  readonly revocation: RevocationState;
  readonly issuer: string;
  readonly sessionIdleTtlSeconds: number;
}

const INACTIVE: IntrospectionResponse = { active: false };

type Found =
  | { kind: 'access'; claims: AccessTokenClaims; sessionId: string | undefined; userId: string }
  | { kind: 'refresh'; response: IntrospectionResponse; sessionId: string; userId: string };

export function createTokenIntrospection(deps: TokenIntrospectionDeps): TokenIntrospectionService {
  const { store, clock, tokens, sessions, accounts, revocation } = deps;

  async function isSessionRevoked(sessionId: string | undefined): Promise<boolean> {
    if (sessionId === undefined) return false;
    return revocation.isSessionRevoked(sessionId) || sessions.isRevokedInStore(sessionId);
  }

  async function enabledUser(userId: string) {
    const user = await accounts.findUser(userId);
    return user !== undefined && !user.disabled ? user : undefined;
  }

  /** The client's live access token, or undefined. */
  async function findAccessToken(token: string, client: RegisteredClient): Promise<Found | undefined> {
    let claims: AccessTokenClaims;
    try {
      claims = tokens.verifyAccessToken(token);
    } catch (error) {
      if (error instanceof InvalidTokenError) return undefined;
      throw error;
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const mine = claims.client_id === client.clientId;
    if (!mine && !(client.audience !== undefined && audiences.includes(client.audience))) return undefined;
    if (await isSessionRevoked(claims.sid)) return undefined;
    // A client_credentials token names the client, not a user.
    const machine = claims.sub === claims.client_id && (await deps.clients.find(claims.sub)) !== undefined;
    if (!machine && (await enabledUser(claims.sub)) === undefined) return undefined;
    return { kind: 'access', claims, sessionId: claims.sid, userId: claims.sub };
  }

  /** The client's live refresh token, or undefined. */
  async function findRefresh(token: string, client: RegisteredClient): Promise<Found | undefined> {
    const parts = splitOpaqueToken(token);
    if (parts === undefined) return undefined;
    const stored = await findRefreshToken(store.db, parts.id);
    if (stored === undefined || !secretMatches(parts.secret, stored.secretHash)) return undefined;
    if (stored.clientId !== client.clientId || stored.spentAt !== null) return undefined;
    const session = await findSession(store.db, stored.sessionId);
    if (session === undefined || !sessions.isSessionLive(session)) return undefined;
    const user = await enabledUser(session.userId);
    if (user === undefined) return undefined;
    // It stops working at the session's absolute end, or sooner when left idle.
    const idleEnd = session.lastUsedAt + deps.sessionIdleTtlSeconds * 1000;
    return {
      kind: 'refresh',
      sessionId: session.id,
      userId: user.id,
      response: {
        active: true,
        scope: stored.scope,
        client_id: stored.clientId,
        username: user.username,
        token_type: 'refresh_token',
        exp: Math.floor(Math.min(session.expiresAt, idleEnd) / 1000),
        iat: Math.floor(stored.createdAt / 1000),
        sub: user.id,
        iss: deps.issuer,
      },
    };
  }

  /** RFC 7009 §2.1 / RFC 7662 §2.1: the hint decides only which kind is looked for first. */
  async function find(token: string, hint: string | undefined, client: RegisteredClient) {
    const order = hint === 'refresh_token' ? [findRefresh, findAccessToken] : [findAccessToken, findRefresh];
    for (const lookup of order) {
      const found = await lookup(token, client);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  return {
    async introspect(presented, endpointUrl, token, hint, ctx = NO_REQUEST) {
      const client = await deps.clients.authenticate(presented, endpointUrl, ctx);
      // RFC 7662 §4: introspection tells about tokens; a public client proves no identity for it.
      if (client.type === 'public') throw new InvalidClientError('a public client may not introspect', false);
      const found = await find(token, hint, client);
      if (found === undefined) return INACTIVE;
      if (found.kind === 'refresh') return found.response;
      const { claims } = found;
      return {
        active: true,
        scope: claims.scope,
        client_id: claims.client_id,
        ...(claims.preferred_username !== undefined ? { username: claims.preferred_username } : {}),
        token_type: 'Bearer',
        exp: claims.exp,
        iat: claims.iat,
        ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        jti: claims.jti,
      };
    },

    async revoke(presented, endpointUrl, token, hint, ctx = NO_REQUEST) {
      const client = await deps.clients.authenticate(presented, endpointUrl, ctx);
      const found = await find(token, hint, client);
      // Only the client's own tokens: another's (seen through its audience) is left alone.
      const own =
        found?.kind === 'refresh' || (found?.kind === 'access' && found.claims.client_id === client.clientId);
      // A token without a session (client_credentials) cannot be revoked alone: it expires.
      if (found === undefined || !own || found.sessionId === undefined) return;
      const now = clock.now();
      const sessionId = found.sessionId;
      const revoked = await store.db.transaction().execute(async (trx) => {
        const ids = await revokeSessions(trx, { ids: [sessionId] }, now, 'token revoked by client');
        if (ids.length > 0) {
          await recordAuditEvent(trx, {
            event: 'token.revoked',
            at: now,
            userId: found.userId,
            sessionId,
            target: sessionId,
            ...auditSource(ctx),
            details: {
              client_id: client.clientId,
              token_type: found.kind === 'refresh' ? 'refresh_token' : 'access_token',
            },
          });
        }
        return ids;
      });
      revocation.markSessionsRevoked(revoked, now);
    },
  };
}
