/**
 * The `gatehouse` command's exit statuses (sysexits.h numbers where one fits), so scripts and
 * process managers can tell a typo from a busy port from a broken setting.
 */
export const EXIT = {
  ok: 0,
  /** Failed while running: database unavailable, an operation refused, anything unexpected. */
  failure: 1,
  /** Unknown command or option, a missing or extra argument. */
  usage: 2,
  /** No database at the configured SQLite path (commands that only open an existing one). */
  noDatabase: 66,
  /** The host cannot be listened on: not an IP address or host name, or not one of this machine. */
  badHost: 68,
  /** The port is already in use. */
  portInUse: 69,
  /** The SQLite path is a directory, or its directory cannot be created. */
  cannotCreate: 73,
  /** Not permitted to listen on the port (below 1024 without the privilege). */
  noPermission: 77,
  /** A setting is invalid. */
  config: 78,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A refusal the command explains in one line and exits with its own status. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export const EXIT_STATUS_HELP = `Exit status:
  0   done
  1   failed while running (database unavailable, operation refused, unexpected error)
  2   usage: unknown command or option, missing or extra argument
  66  no database at the SQLite path (users and keys open an existing database only)
  68  the host cannot be listened on (not an address of this machine, or malformed)
  69  the port is already in use
  73  the SQLite path is a directory, or its directory cannot be created
  77  not permitted to listen on the port
  78  a setting is invalid (one line per problem)`;
