/**
 * External sign-in state kept between the redirect to a provider and its callback, and the ID
 * tokens already exchanged. Both are spent by one conditional write, so two processes (or two
 * requests) racing cannot both use one.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, ExternalSignInFlowsTable } from './schema.ts';

export interface ExternalFlowRecord {
  readonly handleHash: string;
  readonly provider: string;
  readonly state: string;
  readonly codeVerifier: string;
  readonly nonce: string | null;
  readonly returnTo: string | null;
  readonly linkUserId: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export async function insertExternalFlow(db: Kysely<Database>, flow: ExternalFlowRecord): Promise<void> {
  await db.deleteFrom('external_sign_in_flows').where('expires_at', '<=', flow.createdAt).execute();
  await db
    .insertInto('external_sign_in_flows')
    .values({
      handle_hash: flow.handleHash,
      provider: flow.provider,
      state: flow.state,
      code_verifier: flow.codeVerifier,
      nonce: flow.nonce,
      return_to: flow.returnTo,
      link_user_id: flow.linkUserId,
      created_at: flow.createdAt,
      expires_at: flow.expiresAt,
    })
    .execute();
}

/** The live flow behind a handle, left in place (to send its browser on to the provider). */
export async function findExternalFlow(
  db: Kysely<Database>,
  handleHash: string,
  now: number,
): Promise<ExternalFlowRecord | undefined> {
  const flow = await selectFlow(db, handleHash);
  return flow !== undefined && flow.expiresAt > now ? flow : undefined;
}

/** Removes the flow and returns it: only the first caller gets it. Expired flows are not returned. */
export async function takeExternalFlow(
  db: Kysely<Database>,
  handleHash: string,
  now: number,
): Promise<ExternalFlowRecord | undefined> {
  const flow = await selectFlow(db, handleHash);
  if (flow === undefined) return undefined;
  const deleted = await db
    .deleteFrom('external_sign_in_flows')
    .where('handle_hash', '=', handleHash)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows) === 1 && flow.expiresAt > now ? flow : undefined;
}

async function selectFlow(db: Kysely<Database>, handleHash: string): Promise<ExternalFlowRecord | undefined> {
  const row = await db
    .selectFrom('external_sign_in_flows')
    .selectAll()
    .where('handle_hash', '=', handleHash)
    .executeTakeFirst();
  return row === undefined ? undefined : toFlow(row);
}

function toFlow(row: Selectable<ExternalSignInFlowsTable>): ExternalFlowRecord {
  return {
    handleHash: row.handle_hash,
    provider: row.provider,
    state: row.state,
    codeVerifier: row.code_verifier,
    nonce: row.nonce,
    returnTo: row.return_to,
    linkUserId: row.link_user_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/**
 * Records an ID token as used until `expiresAt`; false when it was used already (the primary key
 * refuses the second insert, whichever process makes it).
 */
export async function rememberUsedIdToken(
  db: Kysely<Database>,
  tokenKey: string,
  expiresAt: number,
  now: number,
  isUniqueViolation: (error: unknown) => boolean,
): Promise<boolean> {
  await db.deleteFrom('used_id_tokens').where('expires_at', '<=', now).execute();
  try {
    await db.insertInto('used_id_tokens').values({ token_key: tokenKey, expires_at: expiresAt }).execute();
    return true;
  } catch (error) {
    if (isUniqueViolation(error)) return false;
    throw error;
  }
}
