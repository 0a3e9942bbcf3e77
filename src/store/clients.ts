/** The OpenID Provider's clients and their secrets: only a hash of each secret is stored. */
import type { Kysely } from 'kysely';
import type { ClientsTable, Database } from './schema.ts';

export interface ClientRecord {
  readonly clientId: string;
  readonly clientName: string;
  readonly tokenEndpointAuthMethod: string;
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly grantTypes: readonly string[];
  readonly scopes: readonly string[];
  readonly jwks: { readonly keys: readonly Record<string, unknown>[] } | undefined;
  readonly jwksUri: string | undefined;
  readonly idTokenSignedResponseAlg: string;
  readonly backchannelLogoutUri: string | undefined;
  readonly skipConsent: boolean;
  readonly audience: string | undefined;
  readonly requirePushedAuthorizationRequests: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ClientSecretRecord {
  readonly id: string;
  readonly clientId: string;
  readonly secretHash: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
}

const words = (value: string) => (value === '' ? [] : value.split(' '));

function toRecord(row: ClientsTable): ClientRecord {
  return {
    clientId: row.client_id,
    clientName: row.client_name,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris) as string[],
    grantTypes: words(row.grant_types),
    scopes: words(row.scope),
    jwks: row.jwks === null ? undefined : (JSON.parse(row.jwks) as ClientRecord['jwks']),
    jwksUri: row.jwks_uri ?? undefined,
    idTokenSignedResponseAlg: row.id_token_signed_response_alg,
    backchannelLogoutUri: row.backchannel_logout_uri ?? undefined,
    skipConsent: Number(row.skip_consent) === 1,
    audience: row.audience ?? undefined,
    requirePushedAuthorizationRequests: Number(row.require_pushed_authorization_requests) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function toRow(client: ClientRecord): ClientsTable {
  return {
    client_id: client.clientId,
    client_name: client.clientName,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    redirect_uris: JSON.stringify(client.redirectUris),
    post_logout_redirect_uris: JSON.stringify(client.postLogoutRedirectUris),
    grant_types: client.grantTypes.join(' '),
    scope: client.scopes.join(' '),
    jwks: client.jwks === undefined ? null : JSON.stringify(client.jwks),
    jwks_uri: client.jwksUri ?? null,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    backchannel_logout_uri: client.backchannelLogoutUri ?? null,
    skip_consent: client.skipConsent ? 1 : 0,
    audience: client.audience ?? null,
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests ? 1 : 0,
    created_at: client.createdAt,
    updated_at: client.updatedAt,
  };
}

export async function insertClient(db: Kysely<Database>, client: ClientRecord): Promise<void> {
  await db.insertInto('clients').values(toRow(client)).execute();
}

export async function findClient(db: Kysely<Database>, clientId: string): Promise<ClientRecord | undefined> {
  const row = await db.selectFrom('clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** Every client, oldest first. */
export async function listClients(db: Kysely<Database>): Promise<ClientRecord[]> {
  const rows = await db
    .selectFrom('clients')
    .selectAll()
    .orderBy('created_at')
    .orderBy('client_id')
    .execute();
  return rows.map(toRecord);
}

/** Replaces the client's metadata (all but its id and creation time); false when it is gone. */
export async function updateClient(db: Kysely<Database>, client: ClientRecord): Promise<boolean> {
  const { client_id, created_at, ...changes } = toRow(client);
  const result = await db
    .updateTable('clients')
    .set(changes)
    .where('client_id', '=', client_id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Deletes the client and (by cascade) its secrets; false when there was none. */
export async function deleteClient(db: Kysely<Database>, clientId: string): Promise<boolean> {
  const result = await db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export async function insertClientSecret(db: Kysely<Database>, secret: ClientSecretRecord): Promise<void> {
  await db
    .insertInto('client_secrets')
    .values({
      id: secret.id,
      client_id: secret.clientId,
      secret_hash: secret.secretHash,
      created_at: secret.createdAt,
      expires_at: secret.expiresAt,
    })
    .execute();
}

/** The secrets of the client that still work at `nowMs`: the current one and any overlapping. */
export async function listLiveClientSecrets(
  db: Kysely<Database>,
  clientId: string,
  nowMs: number,
): Promise<ClientSecretRecord[]> {
  const rows = await db
    .selectFrom('client_secrets')
    .selectAll()
    .where('client_id', '=', clientId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)]))
    .execute();
  return rows.map((row) => ({
    id: row.id,
    clientId: row.client_id,
    secretHash: row.secret_hash,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  }));
}

/**
 * Ends the client's secrets at `expiresAtMs` (the current one, and any overlap that would outlast
 * it), and forgets those already expired.
 */
export async function expireClientSecrets(
  db: Kysely<Database>,
  clientId: string,
  expiresAtMs: number,
  nowMs: number,
): Promise<void> {
  await db
    .deleteFrom('client_secrets')
    .where('client_id', '=', clientId)
    .where('expires_at', '<=', nowMs)
    .execute();
  await db
    .updateTable('client_secrets')
    .set({ expires_at: expiresAtMs })
    .where('client_id', '=', clientId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', expiresAtMs)]))
    .execute();
}

/** The sessions issued to the client (by the provider) or holding a refresh token issued to it. */
export async function listClientSessionIds(db: Kysely<Database>, clientId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('refresh_tokens')
    .select('session_id')
    .where('client_id', '=', clientId)
    .union(db.selectFrom('sessions').select('id as session_id').where('client_id', '=', clientId))
    .execute();
  return rows.map((row) => row.session_id);
}
