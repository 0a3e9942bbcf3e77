/**
 * Which driver errors mean "the database is not there right now" rather than "this query is
 * wrong": those become DatabaseUnavailableError (503, retry later); every other error stays as
 * it is, so a bug still surfaces as one.
 */
import { DatabaseUnavailableError } from '../errors.ts';

/** Socket-level failures reaching or talking to the server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs (Appendix A): class 08 connection exception; 57P01 admin_shutdown,
 * 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or in recovery); 57014
 * query_canceled (statement_timeout); 53300 too_many_connections; 25006 read_only_sql_transaction
 * (a failed-over standby not yet promoted).
 */
const PG_UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '57014', '53300', '25006']);

/** node-postgres and pg-pool raise these as plain Errors without a code. */
const PG_UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
  /^Client was closed and is not queryable$/,
];

/** node:sqlite primary result codes: SQLITE_BUSY (5) and SQLITE_LOCKED (6), after busy_timeout. */
const SQLITE_UNAVAILABLE = new Set([5, 6]);

/** A short reason for the log when `error` means the database is unavailable, else undefined. */
export function databaseUnavailableReason(error: unknown): string | undefined {
  if (error instanceof DatabaseUnavailableError) return error.reason;
  if (!(error instanceof Error)) return undefined;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return code;
    if (/^08[0-9A-Z]{3}$/.test(code) || PG_UNAVAILABLE_STATES.has(code)) return `SQLSTATE ${code}`;
  }
  if (typeof errcode === 'number' && SQLITE_UNAVAILABLE.has(errcode & 0xff)) {
    return errcode % 256 === 5 ? 'SQLITE_BUSY' : 'SQLITE_LOCKED';
  }
  if (code === 'ERR_INVALID_STATE' && /database is not open/.test(error.message)) return 'database closed';
  // pg-pool wraps a failed connect in an AggregateError when every address of a host failed.
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const reason = databaseUnavailableReason(inner);
      if (reason !== undefined) return reason;
    }
  }
  if (PG_UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(error.message))) return error.message;
  return undefined;
}

/** The error as a DatabaseUnavailableError (cause kept), or undefined when it is something else. */
export function toDatabaseUnavailable(error: unknown): DatabaseUnavailableError | undefined {
  if (error instanceof DatabaseUnavailableError) return error;
  const reason = databaseUnavailableReason(error);
  return reason === undefined ? undefined : new DatabaseUnavailableError(reason, { cause: error });
}
