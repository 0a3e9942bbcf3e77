/**
 * Checks the command makes before it touches the database: that the SQLite path is usable (and,
 * for commands that only read, that the database exists) and that `serve` can listen where it
 * is told to. Each failure is a CliError with its own exit status and a one-line reason.
 */
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer, isIP } from 'node:net';
import { dirname } from 'node:path';
import { CliError, EXIT } from './exit-codes.ts';

/** The file a `sqlite:` URL names; `undefined` for PostgreSQL and `sqlite::memory:`. */
export function sqliteFileOf(databaseUrl: string): string | undefined {
  if (!databaseUrl.startsWith('sqlite:')) return undefined;
  const path = databaseUrl.slice('sqlite:'.length);
  return path === ':memory:' ? undefined : path;
}

/**
 * `mayCreate`: the command may make a new database (serve, migrate, create-admin); its missing
 * directory is then created, and the returned note says so. Otherwise the file must exist, so a
 * mistyped path is reported instead of answered from a new, empty database.
 */
export function checkDatabasePath(databaseUrl: string, mayCreate: boolean): string | undefined {
  const path = sqliteFileOf(databaseUrl);
  if (path === undefined) return undefined;
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) {
      throw new CliError(
        EXIT.cannotCreate,
        `database path ${path} is a directory, not a file (GATEHOUSE_DATABASE_URL)`,
      );
    }
    return undefined;
  }
  if (!mayCreate) {
    throw new CliError(
      EXIT.noDatabase,
      `no database at ${path}: check GATEHOUSE_DATABASE_URL (gatehouse migrate creates a new one)`,
    );
  }
  const directory = dirname(path);
  if (existsSync(directory)) {
    if (!statSync(directory).isDirectory()) {
      throw new CliError(EXIT.cannotCreate, `cannot create ${path}: ${directory} is not a directory`);
    }
    return undefined;
  }
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliError(EXIT.cannotCreate, `cannot create directory ${directory} for the database (${code})`);
  }
  return `created directory ${directory} for the database`;
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Listens on `host:port` for a moment, so a busy port or a foreign host fails before migrations. */
export async function checkListenAddress(host: string, port: number): Promise<void> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 0 && !HOST_NAME.test(bare)) {
    throw new CliError(
      EXIT.badHost,
      `cannot listen on host "${host}": not an IP address or host name (GATEHOUSE_HOST or --host)`,
    );
  }
  // Fastify listens on every address of `localhost` and ignores the ones it cannot take: each is
  // checked here, so a port taken on one of them is reported, not half-served.
  const addresses =
    bare === 'localhost' ? (await lookup(bare, { all: true }).catch(() => [])).map((a) => a.address) : [];
  for (const address of addresses.length > 0 ? addresses : [bare]) {
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)));
      probe.listen({ host: address, port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}

/** The CliError for a failed listen, or the error itself when it is none of the expected ones. */
export function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case 'EADDRINUSE':
      return new CliError(
        EXIT.portInUse,
        `port ${port} on ${host} is already in use (GATEHOUSE_PORT, PORT or --port)`,
      );
    case 'EACCES':
      return new CliError(
        EXIT.noPermission,
        `not permitted to listen on port ${port} (ports below 1024 need privileges)`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new CliError(
        EXIT.badHost,
        `cannot listen on host "${host}": not an address of this machine (GATEHOUSE_HOST or --host)`,
      );
    default:
      return error;
  }
}
