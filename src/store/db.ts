/**
 * Opens the configured database and migrates it. SQLite/PostgreSQL differences live here and
 * nowhere else, named as capabilities.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
} from 'kysely';
import pg from 'pg';
import * as core from './migrations/2026-11-22-1-core.ts';
import * as sessions from './migrations/2026-11-22-2-sessions.ts';
import * as authorization from './migrations/2026-11-22-3-authorization.ts';
import type { Database } from './schema.ts';
import { openSqliteDatabase } from './sqlite-driver.ts';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface Store {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  /** True when `error` is the database refusing a duplicate in a unique index. */
  isUniqueViolation(error: unknown): boolean;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATIONS: Record<string, Migration> = {
  '2026-11-22-1-core': core,
  '2026-11-22-2-sessions': sessions,
  '2026-11-22-3-authorization': authorization,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export interface OpenStoreOptions {
  /** PostgreSQL only: the schema to use (created if missing). Tests use one schema per run. */
  readonly pgSchema?: string;
  readonly poolMax?: number;
}

export function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: openSqliteDatabase(path) }) });
    return {
      db,
      kind: 'sqlite',
      isUniqueViolation: (error) =>
        error instanceof Error &&
        ((error as { errcode?: number }).errcode === 2067 || /UNIQUE constraint failed/.test(error.message)),
      ping: async () => {
        await sql`select 1`.execute(db);
      },
      close: () => db.destroy(),
    };
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: 2000,
    statement_timeout: 5000,
    // Epoch-millisecond columns are bigint; they fit a double for the next 285,000 years.
    types: {
      getTypeParser: (oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? Number : pg.types.getTypeParser(oid, format),
    },
    ...(options.pgSchema ? { options: `-c search_path=${options.pgSchema}` } : {}),
  });
  // A connection that dies while idle in the pool is dropped by the pool itself; without a
  // listener the 'error' event would end the process. The next query reports the outage.
  pool.on('error', () => {});
  // The same for one that dies while a query holds it: that query fails with the error instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    isUniqueViolation: (error) => (error as { code?: string } | null)?.code === '23505',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

/** Applies every pending migration; throws with the failing migration's error. */
export async function migrateToLatest(store: Store, pgSchema?: string): Promise<string[]> {
  if (store.kind === 'postgres' && pgSchema) {
    await sql`create schema if not exists ${sql.id(pgSchema)}`.execute(store.db);
  }
  // Kysely looks for its migration tables in every schema unless told which: another schema's
  // (another test run's) would make it skip creating this one's.
  const migrationTableSchema = store.kind === 'postgres' ? pgSchema : undefined;
  const migrator = new Migrator({
    db: store.db,
    provider,
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw new Error('Database migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
