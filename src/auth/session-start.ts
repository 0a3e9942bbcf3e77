/** RFC 8176 methods a first step proves (a magic link: control of the mailbox). */
const FIRST_STEP_AMR: Readonly<Record<string, readonly string[]>> = {
  password: ['pwd'],
  cookie: ['pwd'],
  magic_link: ['email'],
  external: ['ext'], // one factor: an account with a second factor is asked for it
};

/**
 * The methods a sign-in proved. Without `given` it is a first step: an account with a second
 * factor gets MfaRequiredError from `secondStep`.
 */
export async function provenMethods(
  secondStep: { requireSecondStep(user: UserRecord, step: FirstStep): Promise<void> } | undefined,
  user: UserRecord,
  given: readonly string[] | undefined,
  step: Omit<FirstStep, 'amr'>,
): Promise<readonly string[] | undefined> {
  if (given !== undefined) return given;
  const amr = FIRST_STEP_AMR[step.method];
  await secondStep?.requireSecondStep(user, { ...step, amr: amr ?? [] });
  return amr;
}

import { recordAuditEvent } from '../store/audit.ts';
import {
  insertRefreshToken,
  insertSession,
  type SessionKind,
  type SessionRecord,
} from '../store/sessions.ts';
import type { UserRecord } from '../store/users.ts';
/** A new session for a user whose credential checked out: a token session or a cookie session. */
import type { FirstStep } from './factors/mfa-tokens.ts';
import { auditSource, type RequestContext } from './request-context.ts';
import { hashSecret, newOpaqueToken, randomSecret } from './secrets.ts';
import type { SessionKit } from './session-kit.ts';
import type { CookieLogin, ExternalSignInProof, TokenPair } from './sessions.ts';

/** A new token session as stored; a client's also names its client, browser session and audience. */
export function tokenSessionRecord(
  id: string,
  userId: string,
  ctx: RequestContext,
  nowMs: number,
  ttlSeconds: number,
  proof: Pick<
    SessionRecord,
    'authTime' | 'amr' | 'externalProvider' | 'clientId' | 'parentSessionId' | 'audience'
  >,
): Omit<SessionRecord, 'revokedAt'> {
  return {
    id,
    userId,
    kind: 'token',
    secretHash: null,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    createdAt: nowMs,
    lastUsedAt: nowMs,
    expiresAt: nowMs + ttlSeconds * 1000,
    ...proof,
  };
}

export async function startTokenSession(
  kit: SessionKit,
  user: UserRecord,
  scope: string,
  clientId: string | undefined,
  ctx: RequestContext,
  method: string,
  amr?: readonly string[],
  external?: ExternalSignInProof,
): Promise<TokenPair> {
  const now = kit.clock.now();
  const sessionId = randomSecret(16);
  const refresh = newOpaqueToken();
  const effectiveClientId = clientId ?? 'gatehouse';
  await kit.db.transaction().execute(async (trx) => {
    await insertSession(
      trx,
      tokenSessionRecord(sessionId, user.id, ctx, now, kit.options.sessionTtlSeconds, {
        authTime: now,
        amr,
        externalProvider: external?.provider ?? null,
      }),
    );
    await insertRefreshToken(trx, {
      id: refresh.id,
      sessionId,
      secretHash: hashSecret(refresh.secret),
      scope,
      clientId: effectiveClientId,
      createdAt: now,
    });
    await recordAuditEvent(trx, {
      event: 'login.succeeded',
      at: now,
      userId: user.id,
      sessionId,
      ...auditSource(ctx),
      details: {
        method,
        client_id: effectiveClientId,
        ...(external ? { provider: external.provider } : {}),
      },
    });
  });
  const access = kit.issueAccess(user, sessionId, scope, clientId, now, amr, external?.provider);
  return {
    accessToken: access.token,
    expiresInSeconds: access.expiresInSeconds,
    refreshToken: refresh.value,
    scope,
    sessionId,
  };
}

export async function startCookieSession(
  kit: SessionKit,
  user: UserRecord,
  ctx: RequestContext,
  method: string,
  amr?: readonly string[],
  external?: ExternalSignInProof,
): Promise<CookieLogin> {
  const now = kit.clock.now();
  const secret = randomSecret();
  const session: SessionRecord = {
    id: randomSecret(16),
    userId: user.id,
    kind: 'cookie' as SessionKind,
    secretHash: hashSecret(secret),
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    createdAt: now,
    lastUsedAt: now,
    expiresAt: now + kit.options.sessionTtlSeconds * 1000,
    revokedAt: null,
    authTime: now,
    amr,
    externalProvider: external?.provider ?? null,
  };
  await kit.db.transaction().execute(async (trx) => {
    await insertSession(trx, session);
    await recordAuditEvent(trx, {
      event: 'login.succeeded',
      at: now,
      userId: user.id,
      sessionId: session.id,
      ...auditSource(ctx),
      details: { method, ...(external ? { provider: external.provider } : {}) },
    });
  });
  return { user, session, cookieValue: `${session.id}.${secret}` };
}
