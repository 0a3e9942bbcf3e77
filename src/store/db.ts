/**
 * Opens the configured database and migrates it. SQLite/PostgreSQL differences live here and
 * nowhere else, named as capabilities.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  type PostgresPool,
  type PostgresPoolClient,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
} from 'kysely';
import pg from 'pg';
import { DatabaseUnavailableError } from '../errors.ts';
import { toDatabaseUnavailable } from './availability.ts';
import * as core from './migrations/2026-11-22-1-core.ts';
import * as sessions from './migrations/2026-11-22-2-sessions.ts';
import * as authorization from './migrations/2026-11-22-3-authorization.ts';
import * as mail from './migrations/2026-11-29-1-mail.ts';
import * as indexes from './migrations/2026-11-29-2-indexes.ts';
import * as auditActor from './migrations/2026-12-02-1-audit-actor.ts';
import * as optionalPassword from './migrations/2026-12-02-2-optional-password.ts';
import * as sessionAuthTime from './migrations/2026-12-02-3-session-auth-time.ts';
import * as identities from './migrations/2026-12-03-1-identities.ts';
import * as factors from './migrations/2026-12-03-5-factors.ts';
import * as clients from './migrations/2026-12-04-1-clients.ts';
import * as oidcProvider from './migrations/2026-12-04-2-oidc-provider.ts';
import * as oidcLogout from './migrations/2026-12-04-3-oidc-logout.ts';
import { OwnSchemaPostgresDialect } from './pg-introspector.ts';
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
  /**
   * Runs `work` on a connection without the statement and query timeouts, for migrations: building
   * an index on a large table may rightly take minutes.
   */
  withoutTimeouts<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  /**
   * Runs `work` in a transaction that holds, until it ends, a lock every process on the database
   * takes under the same `name`: a PostgreSQL advisory transaction lock, SQLite's write lock
   * (`BEGIN IMMEDIATE`). For check-then-write steps that two processes must not interleave.
   */
  exclusiveTransaction<T>(name: string, work: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Runs `work` in `db`'s transaction when it is one (the caller's change joins it), else in a new one. */
export function inTransaction<T>(
  db: Kysely<Database>,
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

const MIGRATIONS: Record<string, Migration> = {
  '2026-11-22-1-core': core,
  '2026-11-22-2-sessions': sessions,
  '2026-11-22-3-authorization': authorization,
  '2026-11-29-1-mail': mail,
  '2026-11-29-2-indexes': indexes,
  '2026-12-02-1-audit-actor': auditActor,
  '2026-12-02-2-optional-password': optionalPassword,
  '2026-12-02-3-session-auth-time': sessionAuthTime,
  '2026-12-03-1-identities': identities,
  '2026-12-03-5-factors': factors,
  '2026-12-04-1-clients': clients,
  '2026-12-04-2-oidc-provider': oidcProvider,
  '2026-12-04-3-oidc-logout': oidcLogout,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export interface OpenStoreOptions {
  /** PostgreSQL only: the schema to use (created if missing). Tests use one schema per run. */
  readonly pgSchema?: string;
  /** PostgreSQL only: connections per process (default 10). */
  readonly poolMax?: number;
  /**
   * Longest a query may take (default 2000): PostgreSQL cancels it (`statement_timeout`) and the
   * client gives up waiting at the same moment, so a silently dead connection costs no more;
   * SQLite waits this long for a lock another process holds.
   */
  readonly statementTimeoutMs?: number;
  /** SQLite only: `full` fsyncs every commit (power-loss safe); `normal` (default) survives a killed process. */
  readonly sqliteSynchronous?: 'normal' | 'full';
  /** PostgreSQL only: longest wait for a connection, new or from the pool (default 2000). */
  readonly connectTimeoutMs?: number;
}

/**
 * Wraps the pg pool so that a failure of the database reaches callers as DatabaseUnavailableError,
 * and a client whose connection failed or timed out leaves the pool instead of being reused: a
 * timed-out query is still pending on its connection, and anything queued behind it would hang.
 */
function guardedPool(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw toDatabaseUnavailable(error) ?? error;
      }
      let broken: Error | undefined;
      // pg-pool listens for errors only on idle clients: a connection lost while checked out
      // (between the queries of a transaction, say) would otherwise be an unhandled 'error'.
      const onError = (error: Error) => {
        broken = toDatabaseUnavailable(error) ?? error;
      };
      client.on('error', onError);
      const run = async (text: string, parameters: ReadonlyArray<unknown>) => {
        try {
          return await client.query(text, [...parameters]);
        } catch (error) {
          const unavailable = toDatabaseUnavailable(error);
          if (unavailable === undefined) throw error;
          broken = unavailable;
          throw unavailable;
        }
      };
      // Kysely calls query(sql, parameters), or query(cursor) to stream, which passes through.
      const query = (textOrCursor: unknown, parameters?: ReadonlyArray<unknown>) =>
        typeof textOrCursor === 'string'
          ? run(textOrCursor, parameters ?? [])
          : client.query(textOrCursor as Parameters<pg.PoolClient['query']>[0]);
      return {
        query: query as unknown as PostgresPoolClient['query'],
        release: () => {
          client.off('error', onError);
          client.release(broken);
        },
      };
    },
    end: () => pool.end(),
  };
}

function pgPoolConfig(databaseUrl: string, options: OpenStoreOptions): pg.PoolConfig {
  return {
    connectionString: databaseUrl,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    // Idle connections are closed after 10 s and probed by TCP keep-alive, so few of them can
    // have died silently (a failed-over primary, a dropped NAT entry) when a request takes one.
    idleTimeoutMillis: 10_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    // Epoch-millisecond columns are bigint; they fit a double for the next 285,000 years.
    types: {
      getTypeParser: (oid: number, format?: 'text' | 'binary') =>
        oid === 20 ? Number : pg.types.getTypeParser(oid, format),
    },
    ...(options.pgSchema ? { options: `-c search_path=${options.pgSchema}` } : {}),
  };
}

/**
 * SQLite transactions that begin IMMEDIATE: the write lock is taken at BEGIN, not at the first
 * write, so a transaction that reads then writes (a uniqueness or last-admin check) cannot be
 * interleaved with another process's, and never fails upgrading its lock half-way.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new (class extends SqliteDriver {
      override async beginTransaction(connection: DatabaseConnection): Promise<void> {
        await connection.executeQuery(CompiledQuery.raw('begin immediate'));
      }
    })(this.#config);
  }
}

export function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Kysely<Database>({
      dialect: new ImmediateSqliteDialect({
        database: openSqliteDatabase(path, {
          busyTimeoutMs: options.statementTimeoutMs ?? 2000,
          synchronous: options.sqliteSynchronous ?? 'normal',
        }),
      }),
    });
    return {
      db,
      kind: 'sqlite',
      isUniqueViolation: (error) =>
        error instanceof Error &&
        ((error as { errcode?: number }).errcode === 2067 || /UNIQUE constraint failed/.test(error.message)),
      ping: async () => {
        await sql`select 1`.execute(db);
      },
      withoutTimeouts: (work) => work(db),
      // Every transaction here begins IMMEDIATE (see ImmediateSqliteDialect), which is already
      // exclusive between processes.
      exclusiveTransaction: (_name, work) => db.transaction().execute(work),
      close: () => db.destroy(),
    };
  }
  const timeoutMs = options.statementTimeoutMs ?? 2000;
  const pool = new pg.Pool({
    ...pgPoolConfig(databaseUrl, options),
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs,
    // A process that vanishes mid-transaction behind a silent network would otherwise hold its
    // row locks until the server's TCP keep-alive gives up (two hours by default).
    idle_in_transaction_session_timeout: 10_000,
  });
  // A connection that dies while idle in the pool is dropped by the pool itself; without a
  // listener the 'error' event would end the process. The next query reports the outage.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool: guardedPool(pool) }) });
  return {
    db,
    kind: 'postgres',
    isUniqueViolation: (error) => (error as { code?: string } | null)?.code === '23505',
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    exclusiveTransaction: (name, work) =>
      db.transaction().execute(async (trx) => {
        // Keyed by schema too, so deployments (and test runs) sharing a server do not wait on each other.
        await sql`select pg_advisory_xact_lock(hashtext(current_schema() || ':' || ${name}))`.execute(trx);
        return work(trx);
      }),
    withoutTimeouts: async (work) => {
      const unlimited = new pg.Pool({ ...pgPoolConfig(databaseUrl, options), max: 1 });
      unlimited.on('error', () => {});
      const migrationDb = new Kysely<Database>({
        dialect: new OwnSchemaPostgresDialect({ pool: guardedPool(unlimited) }),
      });
      try {
        return await work(migrationDb);
      } finally {
        await migrationDb.destroy();
      }
    },
    close: () => db.destroy(),
  };
}

/** Applies every pending migration; throws with the failing migration's error. */
export async function migrateToLatest(store: Store, pgSchema?: string): Promise<string[]> {
  if (store.kind === 'postgres' && pgSchema) {
    // Two processes starting at once can both pass "if not exists" and collide on the catalog's
    // unique index; the loser finds the schema there.
    await sql`create schema if not exists ${sql.id(pgSchema)}`
      .execute(store.db)
      .catch(async (error: unknown) => {
        if (!store.isUniqueViolation(error)) throw error;
      });
  }
  const { error, results } = await store.withoutTimeouts(async (db) => {
    // Kysely looks for its migration tables in every schema unless told which: another schema on
    // the same database would make it skip creating this one's. current_schema() is the given
    // pgSchema (the search_path) or the default, so a database shared with others is safe too.
    // The dialect's introspection, too, reads no other schema (see pg-introspector.ts).
    const migrationTableSchema =
      store.kind === 'postgres'
        ? (await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]?.name
        : undefined;
    return new Migrator({
      db,
      provider,
      ...(migrationTableSchema ? { migrationTableSchema } : {}),
    }).migrateToLatest();
  });
  if (error instanceof DatabaseUnavailableError) throw error;
  if (error) throw new Error('Database migration failed', { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
