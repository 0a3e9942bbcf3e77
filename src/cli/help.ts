/** What `gatehouse --help`, `gatehouse <command> --help` and `gatehouse --version` print. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_STATUS_HELP } from './exit-codes.ts';

export const USAGE = `Usage: gatehouse <command> [options]

Commands:
  serve [--port N] [--host H]            start the server (migrates, creates the signing key)
  migrate                                apply pending database migrations
  create-admin --username U --email E    create an admin; the password comes from
               [--password P]            --password or GATEHOUSE_ADMIN_PASSWORD
  users list [--limit N] [--offset N]    list users as JSON lines
  users disable <username>               disable a user
  users enable <username>                enable a user
  users set-roles <username> <role,...>  replace a user's roles
  keys list                              signing keys: kid, alg, created, state
  keys rotate                            make a new signing key active
  clients add --name N [options]         register an OpenID Provider client; prints
                                         client_id and the secret (shown once)
  clients list                           list clients as JSON lines
  clients rotate-secret <client_id>      a new secret; the old one works for the overlap
  clients remove <client_id>             remove a client and end its sessions

The users and clients commands act as the operator: they may grant any role (no ceiling of held
permissions), but keep the last enabled admin and write audit events as the CLI.

Options (every command):
  -h, --help                             show help for the command
  --version                              print the version

Settings are GATEHOUSE_* environment variables (also read from .env); see docs/settings.md.

${EXIT_STATUS_HELP}
`;

const COMMON = `  -h, --help          show this help
  --version           print the version`;

/** Help of each command and subcommand, by its words (`users list`). */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  serve: `Usage: gatehouse serve [--port N] [--host H]

Starts the server: applies pending migrations, creates the signing key on first start, and
creates the admin named by GATEHOUSE_ADMIN_* when there is none.

Options:
  --port N            TCP port (default: GATEHOUSE_PORT, else PORT, else 8000; 0 picks one)
  --host H            interface to listen on (default: GATEHOUSE_HOST, else 127.0.0.1)
${COMMON}

A busy port (69), a host that is not this machine's (68), or a SQLite path that is a directory
(73) stops it before anything is migrated; a missing directory for the SQLite file is created.
`,
  migrate: `Usage: gatehouse migrate

Applies pending database migrations (creating a new SQLite database and its directory if need be).

Options:
${COMMON}
`,
  'create-admin': `Usage: gatehouse create-admin --username U --email E [--password P]

Creates a user with the roles admin and user. The password comes from --password or
GATEHOUSE_ADMIN_PASSWORD. Migrates a new database first.

Options:
  --username U        the admin's username
  --email E           the admin's email address
  --password P        the admin's password (prefer GATEHOUSE_ADMIN_PASSWORD: shells keep history)
${COMMON}
`,
  users: `Usage: gatehouse users <list|disable|enable|set-roles> ...

  users list [--limit N] [--offset N]    list users as JSON lines
  users disable <username>               disable a user
  users enable <username>                enable a user
  users set-roles <username> <role,...>  replace a user's roles

Opens an existing database only: a mistyped SQLite path is an error (66), never a new database.
Acts as the operator: any role may be granted (no ceiling of held permissions), but the last
enabled admin stays, and each change writes its audit event as the CLI.

Options:
${COMMON}
`,
  'users list': `Usage: gatehouse users list [--limit N] [--offset N]

Prints users as JSON lines, oldest first.

Options:
  --limit N           how many (1 to 10000, default 100)
  --offset N          how many to skip (default 0)
${COMMON}
`,
  'users disable': `Usage: gatehouse users disable <username>

Disables the user: their sessions and tokens stop working.

Options:
${COMMON}
`,
  'users enable': `Usage: gatehouse users enable <username>

Enables a disabled user.

Options:
${COMMON}
`,
  'users set-roles': `Usage: gatehouse users set-roles <username> <role,...>

Replaces the user's roles with the comma-separated list.

Options:
${COMMON}
`,
  keys: `Usage: gatehouse keys <list|rotate>

  keys list           signing keys: kid, alg, created, state
  keys rotate         make a new signing key active

Opens an existing database only.

Options:
${COMMON}
`,
  'keys list': `Usage: gatehouse keys list

Prints the signing keys: kid, alg, created, state (tab-separated).

Options:
${COMMON}
`,
  'keys rotate': `Usage: gatehouse keys rotate

Makes a new signing key active; the previous one verifies until its tokens expire.

Options:
${COMMON}
`,
  clients: `Usage: gatehouse clients <add|list|rotate-secret|remove> ...

  clients add --name N [options]         register a client; prints client_id and the secret
  clients list                           list clients as JSON lines
  clients rotate-secret <client_id>      a new secret; the old one works for the overlap
  clients remove <client_id>             remove a client and end its sessions

The clients of Gatehouse as an OpenID Provider (docs/openid-provider.md). Opens an existing
database only. Acts as the operator and writes audit events as the CLI.

Options:
${COMMON}
`,
  'clients add': `Usage: gatehouse clients add --name N [options]

Registers a client (RFC 7591 metadata) and prints its client_id and, for a confidential client,
its secret: shown this once, only a hash is kept.

Options:
  --name N                       the name shown on the sign-in and consent pages (required)
  --redirect-uri URI             a redirect URI, matched exactly (repeatable)
  --post-logout-redirect-uri URI where logout may return to (repeatable)
  --grant-type G                 authorization_code (default), refresh_token, client_credentials
                                 (repeatable)
  --scope "S ..."                the scopes it may ask for (default: openid profile email, plus
                                 offline_access with refresh_token)
  --public                       a public client (SPA, native app): no secret, PKCE only
  --auth-method M                client_secret_basic (default), client_secret_post,
                                 private_key_jwt (with --jwks-uri) or none
  --jwks-uri URI                 private_key_jwt: where the client's public keys are
  --id-token-alg A               RS256 (default), ES256 or EdDSA
  --backchannel-logout-uri URI   where back-channel logout tokens are posted
  --require-par                  the client must use pushed authorization requests
  --skip-consent                 a first-party client: no consent screen
  --audience A                   the aud of its access tokens (default: the server's)
  --json                         print the RFC 7591 registration response as JSON
${COMMON}
`,
  'clients list': `Usage: gatehouse clients list

Prints every client's metadata as JSON lines, oldest first (never a secret).

Options:
${COMMON}
`,
  'clients rotate-secret': `Usage: gatehouse clients rotate-secret <client_id>

Gives the client a new secret, printed once. The previous secret keeps working for
GATEHOUSE_CLIENT_SECRET_OVERLAP (default 1h), then stops.

Options:
  --json              print client_id, client_secret and previous_secrets_expire_at as JSON
${COMMON}
`,
  'clients remove': `Usage: gatehouse clients remove <client_id>

Removes the client; every session that holds one of its refresh tokens ends.

Options:
${COMMON}
`,
};

/** The version in the package's own package.json, wherever this file was built or installed to. */
export function packageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(directory, 'package.json');
    if (existsSync(candidate)) {
      const manifest = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'gatehouse' && manifest.version) return manifest.version;
    }
    const parent = dirname(directory);
    if (parent === directory) return 'unknown';
    directory = parent;
  }
}
