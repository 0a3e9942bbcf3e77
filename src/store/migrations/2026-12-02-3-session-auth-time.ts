/**
 * When the user last proved a credential in each session (RFC 9470 `auth_time`): set at sign-in
 * and by `POST /reauthenticate`, kept by refreshes. A session from before this migration was
 * proven when it was created.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('auth_time', 'bigint').execute();
  await db.updateTable('sessions').set({ auth_time: sql`created_at` }).execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('auth_time').execute();
}
