/** The `gatehouse` command. */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { toPublicUser } from './auth/accounts.ts';
import { DatabaseUnavailableError, GatehouseError, InvalidFieldError } from './auth/errors.ts';
import { type Config, ConfigError, loadConfig, maskSmtpUrl } from './config.ts';
import { bootstrapAdmin, createGatehouse, type Gatehouse } from './gatehouse.ts';
import { buildServer } from './server.ts';
import { migrateToLatest, openStore } from './store/db.ts';

const USAGE = `Usage: gatehouse <command>

Commands:
  serve                                  start the server (migrates, creates the signing key)
  migrate                                apply pending database migrations
  create-admin --username U --email E    create an admin; the password comes from
               [--password P]            --password or GATEHOUSE_ADMIN_PASSWORD
  users list [--limit N] [--offset N]    list users as JSON lines
  users disable <username>               disable a user
  users enable <username>                enable a user
  users set-roles <username> <role,...>  replace a user's roles
  keys list                              signing keys: kid, alg, created, state
  keys rotate                            make a new signing key active
`;

class UsageError extends Error {}

const SHUTDOWN_DEADLINE_MS = 30_000;

async function withGatehouse<T>(config: Config, run: (gatehouse: Gatehouse) => Promise<T>): Promise<T> {
  const gatehouse = await createGatehouse(config);
  try {
    return await run(gatehouse);
  } finally {
    await gatehouse.close();
  }
}

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
  await gatehouse.runMaintenance();
  const maintenance = setInterval(() => {
    gatehouse.runMaintenance().catch((error: unknown) => {
      // A database outage is reported by /readyz and every request; the next run retries.
      if (error instanceof DatabaseUnavailableError)
        app.log.warn({ reason: error.reason }, 'maintenance skipped: database unavailable');
      else app.log.error({ err: error }, 'maintenance failed');
    });
  }, 60_000);
  maintenance.unref();
  let closing = false;
  // Stop accepting, let in-flight requests finish (Fastify answers requests arriving on open
  // keep-alive connections with 503 and `Connection: close`, and closes idle ones), then close
  // the database and Redis. In-flight work is bounded by the database timeouts and the hash
  // queue, so the deadline only catches the unforeseen.
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'finishing in-flight requests, then exiting');
    clearInterval(maintenance);
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
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
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

async function users(config: Config, args: string[]): Promise<void> {
  const [action, ...rest] = args;
  switch (action) {
    case 'list': {
      const { values } = parseArgs({
        args: rest,
        options: { limit: { type: 'string' }, offset: { type: 'string' } },
      });
      const limit = Number(values.limit ?? 100);
      const offset = Number(values.offset ?? 0);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000)
        throw new UsageError('--limit must be 1 to 10000');
      if (!Number.isInteger(offset) || offset < 0) throw new UsageError('--offset must be 0 or more');
      await withGatehouse(config, async (g) => {
        for (const user of await g.accounts.listUsers(limit, offset))
          console.log(JSON.stringify(toPublicUser(user)));
      });
      return;
    }
    case 'disable':
    case 'enable': {
      if (rest.length !== 1) throw new UsageError(`users ${action} takes one username`);
      await withGatehouse(config, async (g) => {
        const user = await findUserOrFail(g, rest[0]);
        await g.accounts.setDisabled(user.id, action === 'disable');
        console.log(`${action}d ${user.username}`);
      });
      return;
    }
    case 'set-roles': {
      if (rest.length !== 2)
        throw new UsageError('users set-roles takes a username and a comma-separated role list');
      const roles = (rest[1] ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      await withGatehouse(config, async (g) => {
        const user = await findUserOrFail(g, rest[0]);
        await g.accounts.setRoles(user.id, roles);
        console.log(`${user.username}: ${roles.join(', ') || '(no roles)'}`);
      });
      return;
    }
    default:
      throw new UsageError(action ? `unknown users command "${action}"` : 'users needs a command');
  }
}

async function keys(config: Config, args: string[]): Promise<void> {
  const [action, ...rest] = args;
  if (rest.length > 0) throw new UsageError(`keys ${action} takes no arguments`);
  if (action === 'rotate' && config.jwtAlg === 'HS256') {
    throw new UsageError(
      'with GATEHOUSE_JWT_ALG=HS256 the key is GATEHOUSE_JWT_SECRET; rotate it by changing the secret',
    );
  }
  switch (action) {
    case 'list':
      await withGatehouse(config, async (g) => {
        for (const key of await g.keys.list()) {
          console.log([key.kid, key.alg, new Date(key.createdAt).toISOString(), key.state].join('\t'));
        }
      });
      return;
    case 'rotate':
      await withGatehouse(config, async (g) => {
        const kid = await g.keys.rotate();
        console.log(
          `rotated: ${kid} is now the active signing key; the previous key verifies until its tokens expire`,
        );
      });
      return;
    default:
      throw new UsageError(
        action ? `unknown keys command "${action}"` : 'keys needs a command: list or rotate',
      );
  }
}

async function createAdmin(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { username: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' } },
  });
  const password = values.password ?? config.adminPassword;
  if (!values.username || !values.email || !password) {
    throw new UsageError(
      'create-admin needs --username, --email and --password (or GATEHOUSE_ADMIN_PASSWORD)',
    );
  }
  await withGatehouse(config, async (g) => {
    const user = await g.accounts.register({
      username: values.username ?? '',
      email: values.email ?? '',
      password,
      roles: ['user', 'admin'],
    });
    console.log(`created admin ${user.username} (${user.id})`);
  });
}

/** The installed package's version: package.json sits one level above src/ and dist/ alike. */
function packageVersion(): string {
  return (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === '--version' || command === '-v' || command === 'version') {
      console.log(packageVersion());
      return 0;
    }
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    const config = loadConfig();
    switch (command) {
      case 'serve':
        await serve(config);
        return -1;
      case 'migrate': {
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
      }
      case 'create-admin':
        await createAdmin(config, args);
        return 0;
      case 'users':
        await users(config, args);
        return 0;
      case 'keys':
        await keys(config, args);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) console.error(`gatehouse: configuration: ${problem}`);
      return 78;
    }
    if (
      error instanceof UsageError ||
      (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
    ) {
      console.error(`gatehouse: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof InvalidFieldError) {
      console.error(`gatehouse: ${error.field}: ${error.message}`);
      return 1;
    }
    if (error instanceof DatabaseUnavailableError) {
      console.error(`gatehouse: database unavailable (${error.reason})`);
      return 1;
    }
    if (error instanceof GatehouseError) {
      console.error(`gatehouse: ${error.message}`);
      return 1;
    }
    console.error('gatehouse: unexpected error:', error);
    return 1;
  }
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
