/**
 * Indexes for the two hot queries no index served (see docs/postgres.md): the audit log paged
 * newest first without a filter, and the signing keys of one algorithm read at every start and
 * reload.
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').columns(['at', 'id']).execute();
  await db.schema.createIndex('signing_keys_alg_idx').on('signing_keys').columns(['alg', 'state']).execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('signing_keys_alg_idx').execute();
  await db.schema.dropIndex('audit_events_at_idx').execute();
}
