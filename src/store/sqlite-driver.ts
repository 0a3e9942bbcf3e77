/**
 * Kysely's SqliteDialect expects a better-sqlite3-shaped database; this adapts the slice of
 * Node's built-in `node:sqlite` that it calls, so the embedded default needs nothing compiled.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

type SqliteValue = null | number | bigint | string | Uint8Array;

function toSqliteValue(value: unknown): SqliteValue {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === undefined) return null;
  if (value instanceof Date) return value.getTime();
  return value as SqliteValue;
}

class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #statement: StatementSync;

  constructor(statement: StatementSync) {
    this.#statement = statement;
    this.reader = statement.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#statement.all(...parameters.map(toSqliteValue));
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#statement.run(...parameters.map(toSqliteValue));
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.#statement.iterate(...parameters.map(toSqliteValue));
  }
}

/** Opens a SQLite file (or `:memory:`) in WAL mode with foreign keys on. */
export function openSqliteDatabase(path: string): SqliteDatabase {
  const database = new DatabaseSync(path);
  database.exec('PRAGMA foreign_keys = ON');
  database.exec('PRAGMA busy_timeout = 5000');
  if (path !== ':memory:') database.exec('PRAGMA journal_mode = WAL');
  database.exec('PRAGMA synchronous = NORMAL');
  const statements = new Map<string, NodeSqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql: string): SqliteStatement {
      // Kysely prepares on every execution; caching keeps the hot path free of re-parsing.
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = new NodeSqliteStatement(database.prepare(sql));
        if (statements.size < 500) statements.set(sql, statement);
      }
      return statement;
    },
  };
}
