/**
 * External sign-in: identities at Google, GitHub or an OpenID Connect provider linked to users;
 * the browser flows under way (state, PKCE verifier, nonce), each spent by its first callback;
 * and the ID tokens already exchanged at `POST /token`, remembered until they expire.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  // A token session signed in at a provider: its refreshed tokens keep `amr: ["ext"]`.
  await db.schema.alterTable('sessions').addColumn('external_provider', 'text').execute();
  await db.schema
    .createTable('identities')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('email', 'text')
    .addColumn('email_verified', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint', (c) => c.notNull())
    // The provider's tokens, only with GATEHOUSE_OAUTH_STORE_TOKENS: AES-256-GCM, bound to the row's id.
    .addColumn('provider_tokens', 'text')
    .addUniqueConstraint('identities_provider_subject', ['provider', 'subject'])
    .execute();
  await db.schema.createIndex('identities_user').on('identities').column('user_id').execute();

  await db.schema
    .createTable('external_sign_in_flows')
    // SHA-256 of the random handle in the browser's cookie.
    .addColumn('handle_hash', 'text', (c) => c.primaryKey())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    // Null for plain OAuth 2.0 (GitHub): no ID token to bind.
    .addColumn('nonce', 'text')
    .addColumn('return_to', 'text')
    // Set when a signed-in user links this identity to their account instead of signing in.
    .addColumn('link_user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('external_sign_in_flows_expiry')
    .on('external_sign_in_flows')
    .column('expires_at')
    .execute();

  await db.schema
    .createTable('used_id_tokens')
    // `<provider>:<jti or SHA-256 of the token>`.
    .addColumn('token_key', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('used_id_tokens_expiry').on('used_id_tokens').column('expires_at').execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('used_id_tokens').execute();
  await db.schema.dropTable('external_sign_in_flows').execute();
  await db.schema.dropTable('identities').execute();
  await db.schema.alterTable('sessions').dropColumn('external_provider').execute();
}
