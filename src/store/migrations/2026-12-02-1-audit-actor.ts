/**
 * Who made each audited change and what it was made to: `actor_id` is the signed-in user who
 * asked (null when anonymous or the operator's CLI); `target` is the id of the changed thing (a
 * user id, role name, API key id or session id; the event name says which).
 */
import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('actor_id', 'text').execute();
  await db.schema.alterTable('audit_events').addColumn('target', 'text').execute();
  await db.schema
    .createIndex('audit_events_actor_idx')
    .on('audit_events')
    .columns(['actor_id', 'at'])
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('audit_events_actor_idx').execute();
  await db.schema.alterTable('audit_events').dropColumn('target').execute();
  await db.schema.alterTable('audit_events').dropColumn('actor_id').execute();
}
