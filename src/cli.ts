/** The `gatehouse` command. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toPublicUser } from './auth/accounts.ts';
import { DatabaseUnavailableError, GatehouseError, InvalidFieldError } from './auth/errors.ts';
import { startMaintenance } from './auth/maintenance.ts';
import { operatorActor } from './auth/privilege-ceiling.ts';
import { CLI_REQUEST } from './auth/request-context.ts';
import { bootstrapAdmin } from './bootstrap-admin.ts';
import { parseInvocation, UsageError, type Values } from './cli/arguments.ts';
import { CLIENT_COMMANDS } from './cli/clients.ts';
import { type Command, text, withGatehouse } from './cli/command.ts';
import { CliError, EXIT } from './cli/exit-codes.ts';
import { checkDatabasePath, checkListenAddress, listenError } from './cli/preflight.ts';
import { type Config, ConfigError, loadConfig, maskSmtpUrl, readEnvironment } from './config.ts';
import { createGatehouse, type Gatehouse } from './gatehouse.ts';
import { buildServer } from './server.ts';
import { migrateToLatest, openStore } from './store/db.ts';

/** Who the users commands act as, in the same service as the admin API. */
const CLI = operatorActor('cli');

const SHUTDOWN_DEADLINE_MS = 30_000;

async function serve(config: Config): Promise<void> {
  const gatehouse = await createGatehouse(config);
  const app = await buildServer(gatehouse);
  gatehouse.mail.start();
  app.log.info(
    gatehouse.mail.mode === 'smtp'
      ? { smtp: maskSmtpUrl(config.smtpUrl ?? '') }
      : { outbox_dir: config.outboxDir },
    gatehouse.mail.mode === 'smtp'
      ? 'mail is sent by SMTP'
      : 'no SMTP configured: mail is written to the outbox directory',
  );
  if (await bootstrapAdmin(gatehouse)) app.log.info({ username: config.adminUsername }, 'admin user created');
  // Rotates the signing key when due (at start, then checked every minute) and picks up
  // keys rotated by `gatehouse keys rotate` or another process.
  const maintenance = await startMaintenance(gatehouse.runMaintenance, app.log);
  let closing = false;
  // Stop accepting, let in-flight requests finish (Fastify answers requests arriving on open
  // keep-alive connections with 503 and `Connection: close`, and closes idle ones), then close
  // the database and Redis. In-flight work is bounded by the database timeouts and the hash
  // queue, so the deadline only catches the unforeseen.
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'finishing in-flight requests, then exiting');
    maintenance.stop();
    setTimeout(() => {
      app.log.error({ afterMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    app
      .close()
      .then(() => gatehouse.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          app.log.error({ err: error }, 'error while shutting down');
          process.exit(1);
        },
      );
  };
  // A response finished after the signal tells its client to close the connection: a keep-alive
  // socket left open would hold the server open until the client lets go of it.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
}

async function findUserOrFail(gatehouse: Gatehouse, username: string | undefined) {
  if (!username) throw new UsageError('a username is required');
  const user = await gatehouse.accounts.findByUsername(username);
  if (user === undefined) throw new UsageError(`no user named "${username}"`);
  return user;
}

async function setDisabled(config: Config, username: string | undefined, disabled: boolean): Promise<number> {
  await withGatehouse(config, async (g) => {
    const user = await findUserOrFail(g, username);
    await g.userAdmin.update(CLI, user.id, { disabled }, CLI_REQUEST);
    console.log(`${disabled ? 'disabled' : 'enabled'} ${user.username}`);
  });
  return 0;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  serve: {
    options: { port: { type: 'string' }, host: { type: 'string' } },
    positionals: 0,
    createsDatabase: true,
    run: async (config) => {
      await serve(config);
      return -1;
    },
  },
  migrate: {
    positionals: 0,
    createsDatabase: true,
    run: async (config) => {
      const store = openStore(config.databaseUrl, {
        connectTimeoutMs: config.databaseConnectTimeoutSeconds * 1000,
      });
      try {
        const applied = await migrateToLatest(store);
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await store.close();
      }
      return 0;
    },
  },
  'create-admin': {
    options: { username: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' } },
    positionals: 0,
    createsDatabase: true,
    run: async (config, values) => {
      const username = text(values.username);
      const email = text(values.email);
      const password = text(values.password) ?? config.adminPassword;
      if (!username || !email || !password) {
        throw new UsageError('needs --username, --email and --password (or GATEHOUSE_ADMIN_PASSWORD)');
      }
      await withGatehouse(config, async (g) => {
        const user = await g.accounts.register(
          // The operator typed the address: it counts as verified, so the admin can always log in.
          { username, email, password, roles: ['user', 'admin'], emailVerified: true },
          CLI_REQUEST,
          'cli',
        );
        console.log(`created admin ${user.username} (${user.id})`);
      });
      return 0;
    },
  },
  'users list': {
    options: { limit: { type: 'string' }, offset: { type: 'string' } },
    positionals: 0,
    createsDatabase: false,
    run: async (config, values) => {
      const limit = Number(text(values.limit) ?? 100);
      const offset = Number(text(values.offset) ?? 0);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000)
        throw new UsageError('--limit must be 1 to 10000');
      if (!Number.isInteger(offset) || offset < 0) throw new UsageError('--offset must be 0 or more');
      await withGatehouse(config, async (g) => {
        for (const user of await g.accounts.listUsers(limit, offset))
          console.log(JSON.stringify(toPublicUser(user)));
      });
      return 0;
    },
  },
  'users disable': {
    positionals: 1,
    createsDatabase: false,
    run: (config, _values, [username]) => setDisabled(config, username, true),
  },
  'users enable': {
    positionals: 1,
    createsDatabase: false,
    run: (config, _values, [username]) => setDisabled(config, username, false),
  },
  'users set-roles': {
    positionals: 2,
    createsDatabase: false,
    run: async (config, _values, [username, list]) => {
      const roles = (list ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      await withGatehouse(config, async (g) => {
        const user = await findUserOrFail(g, username);
        await g.userAdmin.update(CLI, user.id, { roles }, CLI_REQUEST);
        console.log(`${user.username}: ${roles.join(', ') || '(no roles)'}`);
      });
      return 0;
    },
  },
  'keys list': {
    positionals: 0,
    createsDatabase: false,
    run: async (config) => {
      await withGatehouse(config, async (g) => {
        for (const key of await g.keys.list()) {
          console.log([key.kid, key.alg, new Date(key.createdAt).toISOString(), key.state].join('\t'));
        }
      });
      return 0;
    },
  },
  'keys rotate': {
    positionals: 0,
    createsDatabase: false,
    run: async (config) => {
      if (config.jwtAlg === 'HS256') {
        throw new UsageError(
          'with GATEHOUSE_JWT_ALG=HS256 the key is GATEHOUSE_JWT_SECRET; rotate it by changing the secret',
        );
      }
      await withGatehouse(config, async (g) => {
        const kid = await g.keys.rotate();
        console.log(
          `rotated: ${kid} is now the active signing key; the previous key verifies until its tokens expire`,
        );
      });
      return 0;
    },
  },
  ...CLIENT_COMMANDS,
};

/** The settings, with `serve --port/--host` in place of GATEHOUSE_PORT/GATEHOUSE_HOST. */
function configFor(env: Record<string, string | undefined>, values: Values): Config {
  const flags: [string, string, string | undefined][] = [
    ['GATEHOUSE_PORT', '--port', text(values.port)],
    ['GATEHOUSE_HOST', '--host', text(values.host)],
  ];
  const overrides: Record<string, string> = {};
  for (const [name, flag, value] of flags) {
    if (value === undefined) continue;
    if (value.trim() === '') throw new UsageError(`${flag} needs a value`, 'serve');
    overrides[name] = value;
  }
  try {
    return loadConfig({ ...env, ...overrides });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(
      error.problems.map((problem) => {
        const flag = flags.find(([name, , value]) => value !== undefined && problem.startsWith(`${name} `));
        return flag ? problem.replace(flag[0], flag[1]) : problem;
      }),
    );
  }
}

/**
 * Runs the command line `argv` (without `node` and the script). Returns the exit status, or -1
 * when the command keeps running (serve). `env` defaults to the environment and `.env`.
 */
export async function main(argv: string[], env?: Record<string, string | undefined>): Promise<number> {
  let listening: { host: string; port: number } | undefined;
  try {
    const invocation = parseInvocation(argv, COMMANDS);
    if (invocation.kind === 'print') {
      if (invocation.exitCode === 0) console.log(invocation.output);
      else console.error(invocation.output);
      return invocation.exitCode;
    }
    const command = COMMANDS[invocation.words] as Command;
    const config = configFor(env ?? readEnvironment(), invocation.values);
    // Everything that can be checked is, before a migration runs or a file is created.
    if (invocation.words === 'serve') {
      listening = { host: config.host, port: config.port };
      await checkListenAddress(config.host, config.port);
    }
    const note = checkDatabasePath(config.databaseUrl, command.createsDatabase);
    if (note !== undefined) console.error(`gatehouse: ${note}`);
    return await command.run(config, invocation.values, invocation.positionals);
  } catch (error) {
    return report(error, listening);
  }
}

function report(error: unknown, listening: { host: string; port: number } | undefined): number {
  // A port taken between the check and the listen.
  const failure =
    listening !== undefined && (error as NodeJS.ErrnoException)?.syscall === 'listen'
      ? listenError(error as NodeJS.ErrnoException, listening.host, listening.port)
      : error;
  if (failure instanceof CliError) {
    console.error(`gatehouse: ${failure.message}`);
    return failure.exitCode;
  }
  if (failure instanceof ConfigError) {
    for (const problem of failure.problems) console.error(`gatehouse: configuration: ${problem}`);
    return EXIT.config;
  }
  if (failure instanceof UsageError) {
    const where = failure.words ? `${failure.words}: ` : '';
    const help = failure.words ? `gatehouse ${failure.words} --help` : 'gatehouse --help';
    console.error(`gatehouse: ${where}${failure.message} (see ${help})`);
    return EXIT.usage;
  }
  if (failure instanceof InvalidFieldError) {
    console.error(`gatehouse: ${failure.field}: ${failure.message}`);
    return EXIT.failure;
  }
  if (failure instanceof DatabaseUnavailableError) {
    console.error(`gatehouse: database unavailable (${failure.reason})`);
    return EXIT.failure;
  }
  if (failure instanceof GatehouseError) {
    console.error(`gatehouse: ${failure.message}`);
    return EXIT.failure;
  }
  console.error('gatehouse: unexpected error:', failure);
  return EXIT.failure;
}

/**
 * True when this file is the program node was started with (`node dist/cli.js`, `node src/cli.ts`):
 * `import.meta.main` says so only from Node 22.18, and bin/gatehouse.js calls main() itself.
 */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
}
