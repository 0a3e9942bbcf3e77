/**
 * Gatehouse as an OpenID Provider: authorization codes (hashed, single use), consents per user,
 * client and scope set, pushed authorization requests (RFC 9126), and on sessions the client a
 * token session was issued to, the browser session it came from (the ID token's `sid`) and the
 * audience of its access tokens.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('client_id', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('parent_session_id', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('audience', 'text').execute();
  await db.schema.createIndex('sessions_parent_idx').on('sessions').column('parent_session_id').execute();
  await db.schema
    .createTable('authorization_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('browser_session_id', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('code_challenge', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('auth_time', 'bigint', (c) => c.notNull())
    .addColumn('amr', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('token_session_id', 'text')
    .execute();
  await db.schema
    .createTable('oidc_consents')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('granted_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('oidc_consents_pk', ['user_id', 'client_id', 'scope'])
    .execute();
  await db.schema
    .createTable('pushed_authorization_requests')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('parameters', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('pushed_authorization_requests').execute();
  await db.schema.dropTable('oidc_consents').execute();
  await db.schema.dropTable('authorization_codes').execute();
  await db.schema.dropIndex('sessions_parent_idx').execute();
  await db.schema.alterTable('sessions').dropColumn('audience').execute();
  await db.schema.alterTable('sessions').dropColumn('parent_session_id').execute();
  await db.schema.alterTable('sessions').dropColumn('client_id').execute();
}
