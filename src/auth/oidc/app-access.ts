/**
 * "Apps with access": the clients a user has consented to, and taking that back. Removing an app
 * forgets its consents (the next sign-in asks again) and revokes its token sessions for the user,
 * so its refresh tokens stop working and its access tokens are refused from the next request.
 */
import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../../store/audit.ts';
import { deleteConsents, listUserConsents } from '../../store/oidc-provider.ts';
import type { Database } from '../../store/schema.ts';
import { revokeSessions } from '../../store/sessions.ts';
import { ClientNotFoundError } from '../errors.ts';
import { auditSource, type RequestContext } from '../request-context.ts';
import type { RevocationState } from '../revocation.ts';
import type { ClientDirectory } from './client-types.ts';

export interface AppWithAccess {
  readonly clientId: string;
  readonly clientName: string;
  /** Every scope the user allowed the app, in any of its consents. */
  readonly scopes: readonly string[];
  /** The latest consent. */
  readonly grantedAt: number;
}

export interface AppAccessDeps {
  readonly db: Kysely<Database>;
  readonly clients: Pick<ClientDirectory, 'find'>;
  readonly revocation: RevocationState;
  now(): number;
}

export async function listApps(deps: AppAccessDeps, userId: string): Promise<AppWithAccess[]> {
  const byClient = new Map<string, { scopes: Set<string>; grantedAt: number }>();
  for (const consent of await listUserConsents(deps.db, userId)) {
    const app = byClient.get(consent.clientId) ?? { scopes: new Set<string>(), grantedAt: 0 };
    for (const scope of consent.scope.split(' ').filter(Boolean)) app.scopes.add(scope);
    app.grantedAt = Math.max(app.grantedAt, consent.grantedAt);
    byClient.set(consent.clientId, app);
  }
  const apps: AppWithAccess[] = [];
  for (const [clientId, app] of byClient) {
    // A removed client's consents are left behind; it has no access to show.
    const client = await deps.clients.find(clientId);
    if (client === undefined) continue;
    apps.push({ clientId, clientName: client.clientName, scopes: [...app.scopes], grantedAt: app.grantedAt });
  }
  return apps;
}

/** Throws ClientNotFoundError when the user has given the app nothing to take back. */
export async function removeApp(
  deps: AppAccessDeps,
  userId: string,
  clientId: string,
  ctx: RequestContext,
): Promise<void> {
  const now = deps.now();
  const revoked = await deps.db.transaction().execute(async (trx) => {
    const consents = await deleteConsents(trx, userId, clientId);
    const ids = await revokeSessions(trx, { userId, clientId }, now, 'app access removed');
    if (consents === 0 && ids.length === 0) return undefined;
    await recordAuditEvent(trx, {
      event: 'oauth.consent_revoked',
      at: now,
      userId,
      ...auditSource(ctx),
      details: { client_id: clientId, sessions_revoked: ids.length },
    });
    return ids;
  });
  if (revoked === undefined) throw new ClientNotFoundError();
  deps.revocation.markSessionsRevoked(revoked, now);
}
