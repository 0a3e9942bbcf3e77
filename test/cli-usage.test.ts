/**
 * The command a newcomer meets: --help and --version on every command (help never starts a
 * server or opens a database), serve --port/--host, PORT, and one-line errors with their own
 * exit statuses before any migration runs. In-process through `main`, with the console captured.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import { main } from '../src/cli.ts';
import { loadConfig } from '../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-usage-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** Runs `gatehouse ...argv` in this process; what it printed, and its exit status. */
async function run(t: TestContext, argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  t.mock.method(console, 'log', (...args: unknown[]) => out.push(args.map(String).join(' ')));
  t.mock.method(console, 'error', (...args: unknown[]) => err.push(args.map(String).join(' ')));
  try {
    const code = await main(argv, { GATEHOUSE_OUTBOX_DIR: join(dir, 'outbox'), ...env });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    t.mock.restoreAll();
  }
}

function listen(host: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

const COMMANDS = [
  ['serve'],
  ['migrate'],
  ['create-admin'],
  ['users'],
  ['users', 'list'],
  ['users', 'disable'],
  ['users', 'enable'],
  ['users', 'set-roles'],
  ['keys'],
  ['keys', 'list'],
  ['keys', 'rotate'],
  ['clients'],
  ['clients', 'add'],
  ['clients', 'list'],
  ['clients', 'rotate-secret'],
  ['clients', 'remove'],
];

describe('help and version', () => {
  test('--help on every command prints its usage and exits 0 without touching a database', async (t) => {
    const databaseUrl = `sqlite:${join(dir, 'help', 'never.db')}`;
    for (const words of COMMANDS) {
      for (const flag of ['--help', '-h']) {
        const result = await run(t, [...words, flag], { GATEHOUSE_DATABASE_URL: databaseUrl });
        assert.equal(result.code, 0, `${words.join(' ')} ${flag}: ${result.stderr}`);
        assert.match(result.stdout, new RegExp(`^Usage: gatehouse ${words.join(' ')}`));
      }
    }
    assert.equal(existsSync(join(dir, 'help')), false, 'no database or directory was created');
  });

  test('gatehouse help <command> is the same as <command> --help', async (t) => {
    const help = await run(t, ['help', 'users', 'list']);
    assert.equal(help.code, 0);
    assert.equal(help.stdout, (await run(t, ['users', 'list', '--help'])).stdout);
    assert.equal((await run(t, ['help', 'frobnicate'])).code, 2);
  });

  test('serve --help does not start a server, even with a broken setting', async (t) => {
    const result = await run(t, ['serve', '--help'], { GATEHOUSE_PORT: 'eighty' });
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--port N/);
    assert.match(result.stdout, /--host H/);
  });

  test('--version on its own and on every command prints the package version', async (t) => {
    for (const words of [[], ...COMMANDS]) {
      const result = await run(t, [...words, '--version']);
      assert.equal(result.code, 0, `${words.join(' ')} --version: ${result.stderr}`);
      assert.equal(result.stdout, VERSION);
    }
  });

  test('the main help documents every exit status', async (t) => {
    const result = await run(t, ['--help']);
    assert.equal(result.code, 0);
    for (const status of [0, 1, 2, 66, 68, 69, 73, 77, 78]) {
      assert.match(result.stdout, new RegExp(`^  ${status} +\\S`, 'm'), `exit status ${status}`);
    }
    assert.equal((await run(t, [])).code, 2, 'no command is a usage error');
  });
});

describe('one-line errors with their own exit statuses', () => {
  const oneLine = (stderr: string) => {
    assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
    return stderr;
  };

  test('an unknown option exits 2 and names it and the command', async (t) => {
    for (const [argv, pattern] of [
      [['serve', '--prot', '1'], /^gatehouse: serve: unknown option --prot \(see gatehouse serve --help\)$/],
      [['users', 'list', '--bogus'], /^gatehouse: users list: unknown option --bogus/],
      [['users', '--bogus'], /^gatehouse: users: unknown option --bogus/],
      [['--bogus'], /^gatehouse: unknown option --bogus/],
      [['migrate', 'extra'], /^gatehouse: migrate: takes no arguments/],
    ] as const) {
      const result = await run(t, [...argv]);
      assert.equal(result.code, 2, argv.join(' '));
      assert.match(oneLine(result.stderr), pattern);
    }
  });

  test('sqlite: with no path exits 78 and says what to write', async (t) => {
    const result = await run(t, ['migrate'], { GATEHOUSE_DATABASE_URL: 'sqlite:' });
    assert.equal(result.code, 78);
    assert.match(oneLine(result.stderr), /GATEHOUSE_DATABASE_URL names no file: use sqlite:<path>/);
  });

  test('a database path that is a directory exits 73, for serve too, before migrating', async (t) => {
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    for (const argv of [['migrate'], ['users', 'list'], ['serve', '--port', '0']]) {
      const result = await run(t, argv, { GATEHOUSE_DATABASE_URL: `sqlite:${folder}` });
      assert.equal(result.code, 73, argv.join(' '));
      assert.match(oneLine(result.stderr), /is a directory, not a file/);
    }
  });

  test('users and keys open an existing database only: a mistyped path exits 66 and creates nothing', async (t) => {
    const typo = join(dir, 'typo', 'gatehuose.db');
    for (const argv of [
      ['users', 'list'],
      ['keys', 'list'],
      ['users', 'disable', 'root'],
    ]) {
      const result = await run(t, argv, { GATEHOUSE_DATABASE_URL: `sqlite:${typo}` });
      assert.equal(result.code, 66, argv.join(' '));
      assert.match(oneLine(result.stderr), /no database at .*gatehuose\.db/);
    }
    assert.equal(existsSync(join(dir, 'typo')), false);
  });

  test('migrate creates a missing directory for the database and says so', async (t) => {
    const path = join(dir, 'new', 'nested', 'g.db');
    const result = await run(t, ['migrate'], { GATEHOUSE_DATABASE_URL: `sqlite:${path}` });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /created directory .*nested for the database/);
    assert.ok(existsSync(path));
    const listed = await run(t, ['users', 'list'], { GATEHOUSE_DATABASE_URL: `sqlite:${path}` });
    assert.equal(listed.code, 0, listed.stderr);
  });

  test('serve on a port in use exits 69 before creating or migrating anything', async (t) => {
    const { server, port } = await listen('127.0.0.1');
    try {
      const path = join(dir, 'busy', 'g.db');
      for (const [argv, env] of [
        [['serve', '--port', String(port)], {}],
        [['serve'], { GATEHOUSE_PORT: String(port) }],
        [['serve'], { PORT: String(port) }],
      ] as const) {
        const result = await run(t, [...argv], { GATEHOUSE_DATABASE_URL: `sqlite:${path}`, ...env });
        assert.equal(result.code, 69, `${argv.join(' ')} ${JSON.stringify(env)}: ${result.stderr}`);
        assert.match(oneLine(result.stderr), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      }
      assert.equal(existsSync(join(dir, 'busy')), false, 'nothing was created');
    } finally {
      server.close();
    }
  });

  test('serve on a host that is not this machine’s, or not a host at all, exits 68', async (t) => {
    for (const host of ['203.0.113.7', 'not a host', 'bad_host!']) {
      for (const [argv, env] of [
        [['serve', '--host', host, '--port', '0'], {}],
        [['serve', '--port', '0'], { GATEHOUSE_HOST: host }],
      ] as const) {
        const result = await run(t, [...argv], {
          GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'host', 'g.db')}`,
          ...env,
        });
        assert.equal(result.code, 68, `${host}: ${result.stderr}`);
        assert.match(oneLine(result.stderr), /cannot listen on host/);
      }
    }
    assert.equal(existsSync(join(dir, 'host')), false);
  });

  test('a bad --port value is a setting error that names the flag', async (t) => {
    const result = await run(t, ['serve', '--port', 'eighty']);
    assert.equal(result.code, 78);
    assert.match(oneLine(result.stderr), /--port must be a whole number from 0 to 65535/);
  });
});

describe('PORT', () => {
  test('is the port when GATEHOUSE_PORT is unset, and GATEHOUSE_PORT wins when both are', () => {
    assert.equal(loadConfig({ PORT: '3000' }).port, 3000);
    assert.equal(loadConfig({ PORT: '3000' }).issuer, 'http://127.0.0.1:3000');
    assert.equal(loadConfig({ PORT: '3000', GATEHOUSE_PORT: '4000' }).port, 4000);
    assert.equal(loadConfig({}).port, 8000);
  });

  test('a bad PORT is reported as PORT', () => {
    assert.throws(
      () => loadConfig({ PORT: 'web' }),
      (error: { problems?: string[] }) =>
        error.problems?.[0] === 'PORT must be a whole number from 0 to 65535',
    );
  });
});
