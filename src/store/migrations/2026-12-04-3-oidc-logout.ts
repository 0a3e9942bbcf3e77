/**
 * OpenID Connect Back-Channel Logout 1.0: the outbox of logout tokens still to deliver. A row is
 * written in the transaction that ends a browser session, one per client with a
 * `backchannel_logout_uri` that has a token session from it; a worker POSTs the logout tokens.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('backchannel_logouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    // No foreign keys: a deleted user's logout must still reach the clients.
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('sid', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .execute();
  // One logout per client and browser session, however many times the session is revoked.
  await db.schema
    .createIndex('backchannel_logouts_client_sid')
    .on('backchannel_logouts')
    .columns(['client_id', 'sid'])
    .unique()
    .execute();
  await db.schema
    .createIndex('backchannel_logouts_due')
    .on('backchannel_logouts')
    .columns(['status', 'next_attempt_at'])
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable('backchannel_logouts').execute();
}
