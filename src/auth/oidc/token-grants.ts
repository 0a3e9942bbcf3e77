/**
 * The provider's grants at `POST /token`: `authorization_code` (RFC 6749 §4.1.3 with PKCE,
 * RFC 7636 §4.6), `refresh_token` for a client's tokens (the existing rotation and reuse
 * detection) and `client_credentials` (§4.4). Every client authenticates through the directory.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../../store/audit.ts';
import {
  findAuthorizationCode,
  setCodeTokenSession,
  spendAuthorizationCode,
} from '../../store/oidc-provider.ts';
import type { Database } from '../../store/schema.ts';
import {
  findRefreshToken,
  findSession,
  insertRefreshToken,
  insertSession,
  revokeSessions,
} from '../../store/sessions.ts';
import type { UserRecord } from '../../store/users.ts';
import type { AccountService } from '../accounts.ts';
import { InvalidGrantError, InvalidScopeError, UnauthorizedClientError } from '../errors.ts';
import type { KeySet } from '../key-set.ts';
import { auditSource, type RequestContext } from '../request-context.ts';
import type { RevocationState } from '../revocation.ts';
import { parseScope } from '../scopes.ts';
import { constantTimeEqual, hashSecret, newOpaqueToken, randomSecret, splitOpaqueToken } from '../secrets.ts';
import { tokenSessionRecord } from '../session-start.ts';
import type { SessionService } from '../sessions.ts';
import type { TokenService } from '../tokens.ts';
import type { PresentedClientCredentials, RegisteredClient } from './client-types.ts';
import type { ClientService } from './clients.ts';
import { signIdToken } from './id-token.ts';
import { isOidcScope } from './scopes.ts';

export interface ClientTokenResponse {
  readonly accessToken: string;
  readonly expiresInSeconds: number;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
  readonly scope: string;
}

export interface TokenGrantDeps {
  readonly db: Kysely<Database>;
  readonly clients: Pick<ClientService, 'find' | 'authenticate'>;
  readonly tokens: TokenService;
  readonly keys: KeySet;
  readonly accounts: Pick<AccountService, 'findUser'>;
  readonly sessions: Pick<SessionService, 'refresh'>;
  readonly revocation: RevocationState;
  readonly issuer: string;
  readonly audience: string;
  readonly tokenEndpoint: string;
  readonly sessionTtlSeconds: number;
  readonly idTokenTtlSeconds: number;
  /** The roles whose every permission `scope` carries (the access token's `roles` claim). */
  rolesCarried(user: UserRecord, scope: readonly string[]): string[];
  now(): number;
}

const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

function pkceMatches(verifier: string | undefined, challenge: string): boolean {
  if (verifier === undefined || !CODE_VERIFIER.test(verifier)) return false;
  return constantTimeEqual(createHash('sha256').update(verifier, 'ascii').digest('base64url'), challenge);
}

function requireGrant(client: RegisteredClient, grant: RegisteredClient['grantTypes'][number]): void {
  if (!client.grantTypes.includes(grant))
    throw new UnauthorizedClientError(`The client may not use the ${grant} grant`);
}

export async function exchangeAuthorizationCode(
  deps: TokenGrantDeps,
  presented: PresentedClientCredentials,
  form: { code: string | undefined; redirectUri: string | undefined; codeVerifier: string | undefined },
  ctx: RequestContext,
): Promise<ClientTokenResponse> {
  const client = await deps.clients.authenticate(presented, deps.tokenEndpoint, ctx);
  requireGrant(client, 'authorization_code');
  if (form.code === undefined) throw new InvalidGrantError('code missing');
  const codeHash = hashSecret(form.code);
  const code = await findAuthorizationCode(deps.db, codeHash);
  const now = deps.now();
  if (code === undefined || code.clientId !== client.clientId)
    throw new InvalidGrantError('unknown code or another client’s');
  if (code.usedAt === null && code.expiresAt <= now) throw new InvalidGrantError('code expired');
  if (code.usedAt === null && code.redirectUri !== form.redirectUri)
    throw new InvalidGrantError('redirect_uri differs');
  if (code.usedAt === null && !pkceMatches(form.codeVerifier, code.codeChallenge)) {
    throw new InvalidGrantError('code_verifier does not match');
  }
  const user = await deps.accounts.findUser(code.userId);
  const scopes = code.scope === '' ? [] : code.scope.split(' ');
  const withRefresh = scopes.includes('offline_access') && client.grantTypes.includes('refresh_token');
  const sessionId = randomSecret(16);
  const refresh = newOpaqueToken();
  const outcome = await deps.db.transaction().execute(async (trx) => {
    if (!(await spendAuthorizationCode(trx, codeHash, now))) {
      // RFC 6749 §4.1.2: a code used twice was stolen; what the first use gave is revoked.
      const first = await findAuthorizationCode(trx, codeHash);
      const revoked = first?.tokenSessionId
        ? await revokeSessions(trx, { ids: [first.tokenSessionId] }, now, 'authorization code replayed')
        : [];
      await recordAuditEvent(trx, {
        event: 'oauth.code_reused',
        at: now,
        userId: code.userId,
        sessionId: first?.tokenSessionId ?? null,
        ...auditSource(ctx),
        details: { client_id: client.clientId, revoked: revoked.length },
      });
      return { revoked };
    }
    if (user === undefined || user.disabled) return { revoked: [] as string[] };
    await insertSession(
      trx,
      tokenSessionRecord(sessionId, user.id, ctx, now, deps.sessionTtlSeconds, {
        authTime: code.authTime,
        amr: code.amr,
        clientId: client.clientId,
        parentSessionId: code.browserSessionId,
        audience: code.audience === deps.audience ? null : code.audience,
      }),
    );
    if (withRefresh) {
      await insertRefreshToken(trx, {
        id: refresh.id,
        sessionId,
        secretHash: hashSecret(refresh.secret),
        scope: code.scope,
        clientId: client.clientId,
        createdAt: now,
      });
    }
    await setCodeTokenSession(trx, codeHash, sessionId);
    await recordAuditEvent(trx, {
      event: 'login.succeeded',
      at: now,
      userId: user.id,
      sessionId,
      ...auditSource(ctx),
      details: { method: 'authorization_code', client_id: client.clientId },
    });
    return undefined;
  });
  if (outcome !== undefined) {
    deps.revocation.markSessionsRevoked(outcome.revoked, now);
    throw new InvalidGrantError(
      outcome.revoked.length > 0 || code.usedAt !== null ? 'code replayed' : 'user gone',
    );
  }
  const signedIn = user as UserRecord;
  const access = deps.tokens.issueAccessToken({
    userId: signedIn.id,
    username: signedIn.username,
    roles: deps.rolesCarried(signedIn, scopes),
    scope: code.scope,
    clientId: client.clientId,
    sessionId,
    authTimeMs: code.authTime,
    ...(code.amr ? { amr: code.amr } : {}),
    audience: code.audience,
  });
  const idToken = scopes.includes('openid')
    ? await signIdToken(deps.keys, {
        issuer: deps.issuer,
        clientId: client.clientId,
        alg: client.idTokenSignedResponseAlg,
        user: signedIn,
        scopes,
        authTimeMs: code.authTime,
        amr: code.amr,
        nonce: code.nonce,
        sid: code.browserSessionId,
        accessToken: access.token,
        nowMs: now,
        ttlSeconds: deps.idTokenTtlSeconds,
      })
    : undefined;
  return {
    accessToken: access.token,
    expiresInSeconds: access.expiresInSeconds,
    refreshToken: withRefresh ? refresh.value : undefined,
    idToken,
    scope: code.scope,
  };
}

/**
 * A refresh token issued to a client: the client authenticates and must own it. Undefined when
 * the token is not a client's (Gatehouse's own refresh grant handles it).
 */
export async function refreshClientToken(
  deps: TokenGrantDeps,
  presented: PresentedClientCredentials,
  refreshToken: string,
  requestedScope: string | undefined,
  ctx: RequestContext,
): Promise<ClientTokenResponse | undefined> {
  const parts = splitOpaqueToken(refreshToken);
  const stored = parts && (await findRefreshToken(deps.db, parts.id));
  const session = stored && (await findSession(deps.db, stored.sessionId));
  if (!session?.clientId) return undefined;
  const client = await deps.clients.authenticate(presented, deps.tokenEndpoint, ctx);
  if (client.clientId !== session.clientId) throw new InvalidGrantError('refresh token of another client');
  requireGrant(client, 'refresh_token');
  const pair = await deps.sessions.refresh(refreshToken, requestedScope, ctx, client.clientId);
  return {
    accessToken: pair.accessToken,
    expiresInSeconds: pair.expiresInSeconds,
    refreshToken: pair.refreshToken,
    idToken: undefined,
    scope: pair.scope,
  };
}

/** A machine's own token (RFC 6749 §4.4): `sub` is the client, scopes from its allowance. */
export async function issueClientCredentials(
  deps: TokenGrantDeps,
  presented: PresentedClientCredentials,
  form: { scope: string | undefined; resource: string | undefined },
  ctx: RequestContext,
): Promise<ClientTokenResponse> {
  const client = await deps.clients.authenticate(presented, deps.tokenEndpoint, ctx);
  if (client.type === 'public')
    throw new UnauthorizedClientError('A public client cannot use client_credentials');
  requireGrant(client, 'client_credentials');
  const allowance = client.scopes.filter((scope) => !isOidcScope(scope));
  const requested = parseScope(form.scope);
  if (requested?.some((scope) => !allowance.includes(scope))) throw new InvalidScopeError();
  const audience = client.audience ?? deps.audience;
  if (form.resource !== undefined && form.resource !== audience && form.resource !== deps.audience) {
    throw new InvalidScopeError();
  }
  const scope = (requested ?? allowance).join(' ');
  const access = deps.tokens.issueAccessToken({
    userId: client.clientId,
    username: undefined,
    roles: [],
    scope,
    clientId: client.clientId,
    audience: form.resource ?? audience,
  });
  await recordAuditEvent(deps.db, {
    event: 'oauth.client_token_issued',
    at: deps.now(),
    target: client.clientId,
    ...auditSource(ctx),
    details: { client_id: client.clientId, scope },
  });
  return {
    accessToken: access.token,
    expiresInSeconds: access.expiresInSeconds,
    refreshToken: undefined,
    idToken: undefined,
    scope,
  };
}
