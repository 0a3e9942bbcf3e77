/**
 * The OpenID Provider's records: authorization codes (spent by compare-and-swap on `used_at`),
 * consents per user, client and scope set, and pushed authorization requests (RFC 9126).
 */
import type { Kysely } from 'kysely';
import type { AuthorizationCodesTable, Database } from './schema.ts';

export interface AuthorizationCodeRecord {
  readonly codeHash: string;
  readonly clientId: string;
  readonly userId: string;
  readonly browserSessionId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly nonce: string | null;
  readonly scope: string;
  readonly audience: string;
  readonly authTime: number;
  readonly amr: readonly string[] | undefined;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
  readonly tokenSessionId: string | null;
}

function toCode(row: AuthorizationCodesTable): AuthorizationCodeRecord {
  return {
    codeHash: row.code_hash,
    clientId: row.client_id,
    userId: row.user_id,
    browserSessionId: row.browser_session_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    nonce: row.nonce,
    scope: row.scope,
    audience: row.audience,
    authTime: Number(row.auth_time),
    amr: row.amr ? row.amr.split(' ') : undefined,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    usedAt: row.used_at === null ? null : Number(row.used_at),
    tokenSessionId: row.token_session_id,
  };
}

export async function insertAuthorizationCode(
  db: Kysely<Database>,
  code: Omit<AuthorizationCodeRecord, 'usedAt' | 'tokenSessionId'>,
): Promise<void> {
  await db
    .insertInto('authorization_codes')
    .values({
      code_hash: code.codeHash,
      client_id: code.clientId,
      user_id: code.userId,
      browser_session_id: code.browserSessionId,
      redirect_uri: code.redirectUri,
      code_challenge: code.codeChallenge,
      nonce: code.nonce,
      scope: code.scope,
      audience: code.audience,
      auth_time: code.authTime,
      amr: code.amr ? code.amr.join(' ') : null,
      created_at: code.createdAt,
      expires_at: code.expiresAt,
    })
    .execute();
}

export async function findAuthorizationCode(
  db: Kysely<Database>,
  codeHash: string,
): Promise<AuthorizationCodeRecord | undefined> {
  const row = await db
    .selectFrom('authorization_codes')
    .selectAll()
    .where('code_hash', '=', codeHash)
    .executeTakeFirst();
  return row === undefined ? undefined : toCode(row);
}

/** Marks the code used only if it was not; true when this call spent it. */
export async function spendAuthorizationCode(
  db: Kysely<Database>,
  codeHash: string,
  nowMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable('authorization_codes')
    .set({ used_at: nowMs })
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setCodeTokenSession(
  db: Kysely<Database>,
  codeHash: string,
  sessionId: string,
): Promise<void> {
  await db
    .updateTable('authorization_codes')
    .set({ token_session_id: sessionId })
    .where('code_hash', '=', codeHash)
    .execute();
}

/** Removes codes that expired before `beforeMs` (a replay of one is then simply unknown). */
export async function deleteExpiredAuthorizationCodes(db: Kysely<Database>, beforeMs: number): Promise<void> {
  await db.deleteFrom('authorization_codes').where('expires_at', '<', beforeMs).execute();
}

export async function deleteExpiredPushedRequests(db: Kysely<Database>, beforeMs: number): Promise<void> {
  await db.deleteFrom('pushed_authorization_requests').where('expires_at', '<', beforeMs).execute();
}

/** The scope sets (sorted, space-separated) the user has consented to for the client. */
export async function listConsentedScopes(
  db: Kysely<Database>,
  userId: string,
  clientId: string,
): Promise<string[]> {
  const rows = await db
    .selectFrom('oidc_consents')
    .select('scope')
    .where('user_id', '=', userId)
    .where('client_id', '=', clientId)
    .execute();
  return rows.map((row) => row.scope);
}

export async function insertConsent(
  db: Kysely<Database>,
  consent: { userId: string; clientId: string; scope: string; grantedAt: number },
): Promise<void> {
  await db
    .insertInto('oidc_consents')
    .values({
      user_id: consent.userId,
      client_id: consent.clientId,
      scope: consent.scope,
      granted_at: consent.grantedAt,
    })
    .onConflict((oc) =>
      oc.columns(['user_id', 'client_id', 'scope']).doUpdateSet({ granted_at: consent.grantedAt }),
    )
    .execute();
}

export interface PushedRequestRecord {
  readonly clientId: string;
  readonly parameters: Readonly<Record<string, string>>;
  readonly expiresAt: number;
  readonly usedAt: number | null;
}

export async function insertPushedRequest(
  db: Kysely<Database>,
  request: {
    idHash: string;
    clientId: string;
    parameters: Record<string, string>;
    createdAt: number;
    expiresAt: number;
  },
): Promise<void> {
  await db
    .insertInto('pushed_authorization_requests')
    .values({
      id_hash: request.idHash,
      client_id: request.clientId,
      parameters: JSON.stringify(request.parameters),
      created_at: request.createdAt,
      expires_at: request.expiresAt,
    })
    .execute();
}

export async function findPushedRequest(
  db: Kysely<Database>,
  idHash: string,
): Promise<PushedRequestRecord | undefined> {
  const row = await db
    .selectFrom('pushed_authorization_requests')
    .selectAll()
    .where('id_hash', '=', idHash)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    clientId: row.client_id,
    parameters: JSON.parse(row.parameters) as Record<string, string>,
    expiresAt: Number(row.expires_at),
    usedAt: row.used_at === null ? null : Number(row.used_at),
  };
}

/** Spends a pushed request; true when this call did (RFC 9126 §4: one use). */
export async function spendPushedRequest(
  db: Kysely<Database>,
  idHash: string,
  nowMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable('pushed_authorization_requests')
    .set({ used_at: nowMs })
    .where('id_hash', '=', idHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
