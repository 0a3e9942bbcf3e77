/**
 * The OpenID Provider's clients (RFC 7591 metadata) and their hashed secrets: a client has
 * several while a rotated secret overlaps its successor. The admin role may manage clients.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

const PERMISSIONS = ['clients:read', 'clients:write'];

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('clients')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('client_name', 'text', (c) => c.notNull())
    .addColumn('token_endpoint_auth_method', 'text', (c) => c.notNull())
    .addColumn('redirect_uris', 'text', (c) => c.notNull())
    .addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull())
    .addColumn('grant_types', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('jwks', 'text')
    .addColumn('jwks_uri', 'text')
    .addColumn('id_token_signed_response_alg', 'text', (c) => c.notNull())
    .addColumn('backchannel_logout_uri', 'text')
    .addColumn('skip_consent', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('audience', 'text')
    .addColumn('require_pushed_authorization_requests', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('client_secrets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .execute();
  await db.schema.createIndex('client_secrets_client_idx').on('client_secrets').column('client_id').execute();
  await db.schema.createIndex('refresh_tokens_client_idx').on('refresh_tokens').column('client_id').execute();
  const admin = await db.selectFrom('roles').select('name').where('name', '=', 'admin').executeTakeFirst();
  if (admin !== undefined) {
    await db
      .insertInto('role_permissions')
      .values(PERMISSIONS.map((permission) => ({ role_name: 'admin', permission })))
      .execute();
  }
}

export async function down(db: AnyDb): Promise<void> {
  await db.deleteFrom('role_permissions').where('permission', 'in', PERMISSIONS).execute();
  await db.schema.dropIndex('refresh_tokens_client_idx').execute();
  await db.schema.dropTable('client_secrets').execute();
  await db.schema.dropTable('clients').execute();
}
