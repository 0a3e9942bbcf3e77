/**
 * OpenID Connect Back-Channel Logout 1.0: delivers the logout tokens queued when a browser
 * session ends (`store/backchannel-logouts.ts`). The user's request never waits on a client: the
 * rows are written in its transaction, and this worker is kicked once it has committed, then
 * retries failures with exponential back-off from the maintenance run, giving up after
 * LOGOUT_MAX_ATTEMPTS. Each POST has a timeout, so a slow receiver holds only its own row.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import {
  type ClaimedLogout,
  claimDueLogouts,
  finishLogout,
  scheduleLogoutRetry,
} from '../../store/backchannel-logouts.ts';
import type { Store } from '../../store/db.ts';
import type { IdTokenAlgorithm, KeySet } from '../key-set.ts';
import { serialRuns } from '../serial-runs.ts';
import { signCompactJws } from '../tokens.ts';
import type { ClientDirectory } from './client-types.ts';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
export const LOGOUT_MAX_ATTEMPTS = 6;
/** First retry after 30 s, then 1, 2, 4, 8 minutes (each run of the minute's maintenance). */
export const LOGOUT_RETRY_BASE_MS = 30_000;
/** A logout token is for this delivery only (spec §2.4: a short lifetime, two minutes here). */
const LOGOUT_TOKEN_TTL_SECONDS = 120;
const BATCH = 20;

export interface BackchannelLogoutOptions {
  readonly issuer: string;
  /** How long one POST may take before it counts as failed. */
  readonly timeoutMs: number;
}

export interface BackchannelLogout {
  /** Delivers every due logout; resolves when each is delivered, rescheduled or given up. */
  runOnce(): Promise<void>;
  /** Asks for a run now, after a revocation committed; never waits and never throws. */
  kick(): void;
  /** Waits for a run in progress (closing). */
  stop(): Promise<void>;
}

/** The logout token (spec §2.4): `typ` `logout+jwt`, `sid` and `sub`, the event, never a `nonce`. */
export async function signLogoutToken(
  keys: KeySet,
  input: { issuer: string; clientId: string; alg: string; subject: string; sid: string; nowMs: number },
): Promise<string> {
  const alg = (['RS256', 'EdDSA', 'ES256'].includes(input.alg) ? input.alg : 'RS256') as IdTokenAlgorithm;
  const iat = Math.floor(input.nowMs / 1000);
  return signCompactJws((await keys.ring(alg)).activeKey(), 'logout+jwt', {
    iss: input.issuer,
    aud: input.clientId,
    iat,
    exp: iat + LOGOUT_TOKEN_TTL_SECONDS,
    jti: randomUUID(),
    sub: input.subject,
    sid: input.sid,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  });
}

/** A receiver's failure for the outbox row and logs: a status or an error name, nothing it sent. */
function describeFailure(error: unknown): string {
  if (typeof error === 'string') return error;
  const e = error as { name?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.cause?.code;
  return [typeof e?.name === 'string' ? e.name : 'Error', typeof code === 'string' ? code : '']
    .filter(Boolean)
    .join(' ');
}

export function createBackchannelLogout(deps: {
  store: Store;
  clock: Clock;
  clients: Pick<ClientDirectory, 'find'>;
  keys: KeySet;
  options: BackchannelLogoutOptions;
  /** Errors of the worker itself (the database), never a receiver's. */
  onBackgroundError: (error: unknown) => void;
}): BackchannelLogout {
  const { store, clock, clients, keys, options } = deps;
  let stopped = false;

  async function deliver(logout: ClaimedLogout): Promise<void> {
    const client = await clients.find(logout.clientId);
    const uri = client?.backchannelLogoutUri;
    if (client === undefined || uri === undefined) {
      await finishLogout(store.db, logout.id, { status: 'failed', atMs: clock.now(), error: 'no receiver' });
      return;
    }
    let failure: unknown;
    try {
      const logoutToken = await signLogoutToken(keys, {
        issuer: options.issuer,
        clientId: client.clientId,
        alg: client.idTokenSignedResponseAlg,
        subject: logout.subject,
        sid: logout.sid,
        nowMs: clock.now(),
      });
      const response = await fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: logoutToken }),
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await response.body?.cancel();
      // Spec §2.8: 200 on success; some frameworks answer 204, so any 2xx counts.
      if (response.status >= 200 && response.status < 300) {
        await finishLogout(store.db, logout.id, { status: 'delivered', atMs: clock.now() });
        return;
      }
      failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = error;
    }
    const reason = describeFailure(failure);
    if (logout.attempts >= LOGOUT_MAX_ATTEMPTS) {
      await finishLogout(store.db, logout.id, { status: 'failed', atMs: clock.now(), error: reason });
      return;
    }
    const delayMs = LOGOUT_RETRY_BASE_MS * 2 ** (logout.attempts - 1);
    await scheduleLogoutRetry(store.db, logout.id, clock.now() + delayMs, reason);
  }

  async function drain(): Promise<void> {
    for (;;) {
      const batch = await claimDueLogouts(store.db, clock.now(), BATCH, options.timeoutMs * 2 + 60_000);
      await Promise.all(batch.map(deliver));
      if (batch.length < BATCH) return;
    }
  }

  const { runOnce, settled } = serialRuns(drain);

  return {
    runOnce,
    kick: () => {
      setImmediate(() => {
        if (!stopped) runOnce().catch(deps.onBackgroundError);
      });
    },
    stop: async () => {
      stopped = true;
      await settled();
    },
  };
}
