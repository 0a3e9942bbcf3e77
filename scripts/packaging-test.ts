/**
 * The packaging test (`npm run test:packaging`, run by .ci/run after the suite): Gatehouse as a user
 * gets it, never by self-reference. Packs the packages (the root, and packages/* when the root
 * declares workspaces), then on each Node version — from the npm `node` package: 22.16.0, the
 * oldest `engines` allows, and 24 — installs the tarballs into fresh apps in a temporary directory
 * outside the repository (`--engine-strict`) and there:
 *  - runs `gatehouse --version`, `gatehouse create-admin` and `gatehouse serve` from node_modules;
 *  - registers an OpenID Provider client with the README's `gatehouse clients add` command; the
 *    server serves its discovery document, and the printed secret authenticates the client;
 *  - runs a 10-line JavaScript app that embeds the plugin and protects a route: 401 without a
 *    token, 200 with one;
 *  - type-checks the same app written in TypeScript under `tsc --init`'s defaults, skipLibCheck off;
 *  - runs a resource server with only the verifier against the standalone server, and measures
 *    what the verifier installs (with @gatehouse/verify: under 20 MB and no database driver).
 * `GATEHOUSE_PACKAGING_NODES="22.16.0 24"` picks the versions, `GATEHOUSE_PACKAGING_NPM_CACHE` the
 * npm cache (default .cache/npm in the repository), `GATEHOUSE_PACKAGING_KEEP=1` keeps the apps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, delimiter, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const NODES = (process.env.GATEHOUSE_PACKAGING_NODES ?? '22.16.0 24').split(/\s+/).filter(Boolean);
const CACHE = process.env.GATEHOUSE_PACKAGING_NPM_CACHE ?? join(ROOT, '.cache', 'npm');
const VERIFIER_LIMIT_KB = 20 * 1024;
const DATABASE_DRIVERS = ['pg', 'ioredis', 'nodemailer', '@node-rs/argon2', '@node-rs/bcrypt', 'kysely'];
const STEP_TIMEOUT_MS = 180_000;
const started = performance.now();

const WORK = mkdtempSync(join(tmpdir(), 'gatehouse-packaging-'));
const running = new Set<ChildProcess>();

/** The environment of every command: nothing of the repository's npm run, source condition or settings. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Gatehouse refuses GATEHOUSE_* variables it does not know, such as this script's own and CI's.
    if (value === undefined || /^(npm_|GATEHOUSE_)/.test(key) || key === 'NODE_OPTIONS' || key === 'INIT_CWD')
      continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((entry) => !entry.startsWith(ROOT))
    .join(delimiter);
  return {
    ...env,
    CI: 'true',
    npm_config_cache: CACHE,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_yes: 'true',
    npm_config_loglevel: 'error',
  };
}

interface RunOptions {
  readonly cwd: string;
  readonly env: Record<string, string>;
}

/** Runs a command to completion (no stdin); throws with its output when it fails. */
function run(command: string, args: readonly string[], options: RunOptions): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolveRun(stdout);
      reject(
        new Error(
          `\`${command} ${args.join(' ')}\` in ${options.cwd} failed (${signal ?? `exit ${code}`}):\n` +
            `${stdout}\n${stderr}`.trim().slice(-4000),
        ),
      );
    });
  });
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

interface Server {
  stop(): Promise<void>;
}

/** Starts a server in its own process group and resolves once `readyUrl` answers at all. */
async function startServer(
  command: string,
  args: string[],
  options: RunOptions,
  readyUrl: string,
): Promise<Server> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const stop = () =>
    new Promise<void>((resolveStop) => {
      running.delete(child);
      if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
      const force = setTimeout(() => kill(child, 'SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolveStop();
      });
      kill(child, 'SIGTERM');
    });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      await fetch(readyUrl, { signal: AbortSignal.timeout(2000) });
      return { stop };
    } catch {
      await new Promise((wait) => setTimeout(wait, 200));
    }
  }
  await stop();
  throw new Error(`\`${command} ${args.join(' ')}\` did not answer at ${readyUrl}:\n${output.slice(-4000)}`);
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

async function request(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body };
}

async function passwordToken(baseUrl: string, username: string, password: string): Promise<string> {
  const { status, body } = await request(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
  check(
    status === 200 && typeof body.access_token === 'string',
    `POST /token: ${status} ${JSON.stringify(body)}`,
  );
  return body.access_token as string;
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** What an app's node_modules holds: packages and kilobytes on disk (du -sk). */
async function installed(dir: string): Promise<{ packages: number; kb: number }> {
  const nodeModules = join(dir, 'node_modules');
  let packages = 0;
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    packages += entry.name.startsWith('@') ? readdirSync(join(nodeModules, entry.name)).length : 1;
  }
  const du = await run('du', ['-sk', nodeModules], { cwd: dir, env: baseEnv() });
  return { packages, kb: Number(du.split(/\s/)[0]) };
}

const megabytes = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

// The apps, as a user writes them.

const PLUGIN_APP = `import Fastify from 'fastify';
import { gatehouse } from 'gatehouse';

const app = Fastify();
await app.register(gatehouse, { databaseUrl: 'sqlite:data/plugin.db', issuer: process.env.ISSUER });
app.get('/hello', { onRequest: app.gatehouse.guards.requireUser }, async (request) => ({
  hello: request.principal?.user.username,
}));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
console.log('app listening');
`;

/**
 * The README's plugin example, copied as a user would: the first ```ts/```js block that imports
 * `gatehouse` and registers it. Its protected route is the first `app.get('/…')`; its `listen`
 * options are the one thing changed, to a free port.
 */
function readmePluginExample(): { code: string; route: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  for (const [, code] of readme.matchAll(/```(?:ts|js)\n([\s\S]*?)```/g)) {
    if (code === undefined || !/from 'gatehouse'/.test(code) || !/\.register\(gatehouse\b/.test(code))
      continue;
    const route = /app\.get\(\s*'(\/[^']*)'/.exec(code)?.[1];
    const listen = /app\.listen\(\{[^}]*\}\)/;
    if (route === undefined || !listen.test(code)) continue;
    return {
      code: code.replace(listen, "app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })"),
      route,
    };
  }
  throw new Error(
    'README.md has no plugin example (a ts block importing gatehouse, registering it, guarding a route)',
  );
}

/** The README's `npx gatehouse clients add …` block (its single sign-on section), to run with bash. */
function readmeClientsAdd(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const command = /```sh\n(npx gatehouse clients add [^`]*?)```/.exec(readme)?.[1];
  if (command === undefined) throw new Error('README.md has no `npx gatehouse clients add` block');
  return command;
}

const verifierApp = (specifier: string, typed: boolean) => `import { createServer } from 'node:http';
import { createVerifier, VerifyError } from '${specifier}';

const verifier = createVerifier({ issuer: process.env.ISSUER ?? '' });
createServer(async (request, response) => {
  let status = 200;
  let body${typed ? ': unknown' : ''};
  try {
    const principal = await verifier.principal(request);
    if (principal === null) [status, body] = [401, { detail: 'Not authenticated' }];
    else body = { hello: principal.username };
  } catch (error) {
    if (!(error instanceof VerifyError)) throw error;
    [status, body] = [error.status, { detail: error.message }];
  }
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('resource server listening'));
`;

interface Tarball {
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly entryCount: number;
  readonly size: number;
  readonly unpackedSize: number;
}

async function pack(): Promise<Tarball[]> {
  const destination = join(WORK, 'tarballs');
  mkdirSync(destination);
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces?: unknown };
  const workspaces = Array.isArray(manifest.workspaces) && manifest.workspaces.length > 0;
  const env = baseEnv();
  // The repository's own Node (the `node` devDependency) builds: prepack runs the build.
  env.PATH = [join(ROOT, 'node_modules', '.bin'), env.PATH].join(delimiter);
  const workspaceFlags = workspaces ? ['--workspaces', '--include-workspace-root'] : [];
  const output = await run('npm', ['pack', '--json', '--pack-destination', destination, ...workspaceFlags], {
    cwd: ROOT,
    env,
  });
  const packed = JSON.parse(output) as Array<Omit<Tarball, 'path'> & { filename: string }>;
  return packed.map((entry) => ({
    ...entry,
    path: join(destination, entry.filename.replace(/^@/, '').replace('/', '-')),
  }));
}

/** The `node` binary of a version, from the npm `node` package, first on a PATH of its own. */
async function nodeEnv(
  requested: string,
  home: string,
): Promise<{ env: Record<string, string>; version: string }> {
  const env = baseEnv();
  const [execPath, version] = (
    await run('npx', ['-y', `node@${requested}`, '-p', 'process.execPath + " " + process.version'], {
      cwd: WORK,
      env,
    })
  )
    .trim()
    .split(' ');
  check(
    execPath !== undefined && version !== undefined && existsSync(execPath),
    `node@${requested} installed`,
  );
  const bin = join(home, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(execPath as string, join(bin, 'node'));
  env.PATH = [bin, env.PATH].join(delimiter);
  return { env, version: version as string };
}

async function newApp(
  dir: string,
  env: Record<string, string>,
  install: string[],
  strict = true,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: basename(dir), version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  await run('npm', ['install', ...(strict ? ['--engine-strict'] : []), ...install], { cwd: dir, env });
}

/**
 * Type-checks the .ts files of `dir` with `tsc --init`'s defaults and skipLibCheck off, as strict
 * a consumer as there is; `types: ["node"]` as tsc --init's own comment says for Node. TypeScript
 * and @types/node sit in the directory above (`tools`), as a developer's own would, so that the
 * app's node_modules stays what a user installs.
 */
async function typecheck(dir: string, tools: string, env: Record<string, string>): Promise<void> {
  const tsc = join(tools, 'node_modules', 'typescript', 'bin', 'tsc');
  await run('node', [tsc, '--init'], { cwd: dir, env });
  const tsconfig = join(dir, 'tsconfig.json');
  const text = readFileSync(tsconfig, 'utf8');
  check(
    /"skipLibCheck": true/.test(text) && /"types": \[\]/.test(text),
    'tsc --init writes skipLibCheck and types',
  );
  writeFileSync(
    tsconfig,
    text.replace('"skipLibCheck": true', '"skipLibCheck": false').replace('"types": []', '"types": ["node"]'),
  );
  await run('node', [tsc, '--noEmit'], { cwd: dir, env });
}

interface Result {
  readonly node: string;
  readonly app: { packages: number; kb: number };
  readonly verifier: { packages: number; kb: number };
}

async function proveOn(requested: string, tarballs: Tarball[]): Promise<Result> {
  const home = join(WORK, `node-${requested}`);
  const { env, version } = await nodeEnv(requested, home);
  const log = (message: string) =>
    console.log(
      `packaging [node ${version}, ${Math.round((performance.now() - started) / 1000)} s]: ${message}`,
    );
  const gatehouseTarball = tarballs.find((t) => t.name === 'gatehouse');
  if (gatehouseTarball === undefined) throw new Error('the gatehouse tarball was not packed');
  const verifyTarball = tarballs.find((t) => t.name === '@gatehouse/verify');
  const others = tarballs.filter((t) => t !== gatehouseTarball).map((t) => t.path);
  const app = join(home, 'app');
  const verifier = join(home, 'verifier');
  const specifier = verifyTarball ? '@gatehouse/verify' : 'gatehouse/verify';
  const readme = readmePluginExample();
  const typescript = (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'typescript', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const major = version.replace(/^v/, '').split('.')[0] as string;
  // The plugin app (which also runs the CLI), the verifier app, and the TypeScript tools.
  await Promise.all([
    newApp(app, env, [...others, gatehouseTarball.path, 'fastify@5']),
    newApp(verifier, env, [verifyTarball ? verifyTarball.path : gatehouseTarball.path]),
    newApp(home, env, [`typescript@${typescript}`, `@types/node@${major}`], false),
  ]);
  const appInstall = await installed(app);
  const verifierInstall = await installed(verifier);
  log(
    `installed: plugin app ${appInstall.packages} packages / ${megabytes(appInstall.kb)}, verifier app ${verifierInstall.packages} packages / ${megabytes(verifierInstall.kb)}`,
  );

  const cliVersion = (await run('npx', ['gatehouse', '--version'], { cwd: app, env })).trim();
  check(cliVersion === gatehouseTarball.version, `npx gatehouse --version prints ${cliVersion}`);
  // node_modules/.bin/gatehouse calls main() itself; started directly, cli.js must know it is the
  // program without `import.meta.main` (Node 22.18+ only).
  const direct = join(app, 'node_modules', 'gatehouse', 'dist', 'cli.js');
  const directVersion = (await run('node', [direct, '--version'], { cwd: app, env })).trim();
  check(directVersion === gatehouseTarball.version, `node dist/cli.js --version prints ${directVersion}`);
  log(`npx gatehouse --version and node node_modules/gatehouse/dist/cli.js --version: ${cliVersion}`);

  const serverPort = await freePort();
  const issuer = `http://127.0.0.1:${serverPort}`;
  const adminPassword = `pkg-${randomBytes(12).toString('base64url')}`;
  const serverEnv = {
    ...env,
    GATEHOUSE_DATABASE_URL: 'sqlite:data/server.db',
    GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_HOST: '127.0.0.1',
    GATEHOUSE_PORT: String(serverPort),
    GATEHOUSE_OUTBOX_DIR: join(app, 'data', 'outbox'),
  };
  const createAdmin = ['create-admin', '--username', 'admin', '--email', 'admin@example.com'];
  const created = await run('npx', ['gatehouse', ...createAdmin, '--password', adminPassword], {
    cwd: app,
    env: serverEnv,
  });
  check(/created admin admin/.test(created), `npx gatehouse create-admin says: ${created.trim()}`);
  log('npx gatehouse create-admin: ok');

  const added = await run('bash', ['-euo', 'pipefail', '-c', readmeClientsAdd()], {
    cwd: app,
    env: serverEnv,
  });
  const printed = (name: string) => new RegExp(`^${name}: (\\S+)$`, 'm').exec(added)?.[1] ?? '';
  const [clientId, clientSecret] = [printed('client_id'), printed('client_secret')];
  check(/^[0-9a-f]{32}$/.test(clientId) && clientSecret !== '', `npx gatehouse clients add says: ${added}`);
  log(`npx gatehouse clients add (the README's command): client ${clientId}`);

  const gatehouseBin = join(app, 'node_modules', '.bin', 'gatehouse');
  const server = await startServer(
    gatehouseBin,
    ['serve'],
    { cwd: app, env: serverEnv },
    `${issuer}/healthz`,
  );
  try {
    const health = await request(`${issuer}/healthz`);
    check(health.status === 200, `gatehouse serve: /healthz ${health.status}`);
    log('gatehouse serve: ok');

    // The OpenID Provider: discovery, and the client the CLI registered authenticates at /token
    // (a made-up code is then the grant's problem, not the client's).
    const discovery = await request(`${issuer}/.well-known/openid-configuration`);
    check(
      discovery.status === 200 &&
        discovery.body.issuer === issuer &&
        discovery.body.authorization_endpoint === `${issuer}/authorize` &&
        (discovery.body.id_token_signing_alg_values_supported as string[] | undefined)?.includes('RS256') ===
          true,
      `GET /.well-known/openid-configuration: ${discovery.status} ${JSON.stringify(discovery.body)}`,
    );
    const codeGrant = (secret: string) =>
      request(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'made-up',
          redirect_uri: 'http://localhost:3000/callback',
          code_verifier: 'a'.repeat(43),
        }),
      });
    const [right, wrong] = await Promise.all([codeGrant(clientSecret), codeGrant(`${clientSecret}x`)]);
    check(
      right.body.error === 'invalid_grant' && wrong.status === 401 && wrong.body.error === 'invalid_client',
      `POST /token as the client: ${JSON.stringify(right.body)}; with a wrong secret ${wrong.status}`,
    );
    log('OpenID Provider: discovery document served; the client from the CLI authenticates at /token');

    // The embedded plugin.
    writeFileSync(join(app, 'app.js'), PLUGIN_APP);
    const appPort = await freePort();
    const appUrl = `http://127.0.0.1:${appPort}`;
    const appEnv = { ...env, PORT: String(appPort), ISSUER: appUrl };
    const embedded = await startServer('node', ['app.js'], { cwd: app, env: appEnv }, `${appUrl}/hello`);
    try {
      const anonymous = await request(`${appUrl}/hello`);
      check(anonymous.status === 401, `plugin app: /hello without a token is ${anonymous.status}`);
      const password = `pkg-${randomBytes(12).toString('base64url')}`;
      const registered = await request(`${appUrl}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', email: 'alice@example.com', password }),
      });
      check(registered.status === 201, `plugin app: POST /register ${registered.status}`);
      const token = await passwordToken(appUrl, 'alice', password);
      const hello = await request(`${appUrl}/hello`, bearer(token));
      check(
        hello.status === 200 && hello.body.hello === 'alice',
        `plugin app: /hello with a token: ${hello.status}`,
      );
      log('plugin app (JavaScript): 401 without a token, 200 with one');
    } finally {
      await embedded.stop();
    }

    // The README's example, copied into the app and run with plain node.
    writeFileSync(join(app, 'readme-example.js'), readme.code);
    const readmePort = await freePort();
    const readmeUrl = `http://127.0.0.1:${readmePort}${readme.route}`;
    const readmeEnv = { ...env, PORT: String(readmePort) };
    const example = await startServer('node', ['readme-example.js'], { cwd: app, env: readmeEnv }, readmeUrl);
    try {
      const anonymous = await request(readmeUrl);
      check(
        anonymous.status === 401,
        `README example: ${readme.route} without a token is ${anonymous.status}`,
      );
      log(`README plugin example (node readme-example.js): ${readme.route} without a token is 401`);
    } finally {
      await example.stop();
    }

    // The resource server: the verifier alone, against the standalone server.
    writeFileSync(join(verifier, 'server.js'), verifierApp(specifier, false));
    const resourcePort = await freePort();
    const resourceUrl = `http://127.0.0.1:${resourcePort}`;
    const resourceEnv = { ...env, PORT: String(resourcePort), ISSUER: issuer };
    const resource = await startServer(
      'node',
      ['server.js'],
      { cwd: verifier, env: resourceEnv },
      resourceUrl,
    );
    try {
      const anonymous = await request(resourceUrl);
      check(anonymous.status === 401, `resource server without a token: ${anonymous.status}`);
      const token = await passwordToken(issuer, 'admin', adminPassword);
      const hello = await request(resourceUrl, bearer(token));
      check(
        hello.status === 200 && hello.body.hello === 'admin',
        `resource server with a token: ${hello.status}`,
      );
      const forged = await request(resourceUrl, bearer(`${token.slice(0, -4)}AAAA`));
      check(forged.status === 401, `resource server with a forged token: ${forged.status}`);
    } finally {
      await resource.stop();
    }
    log(
      `resource server (${specifier}) against gatehouse serve: 401 without a token, 200 with one, 401 forged`,
    );
  } finally {
    await server.stop();
  }
  if (verifyTarball) {
    check(
      verifierInstall.kb < VERIFIER_LIMIT_KB,
      `the verifier installs ${megabytes(verifierInstall.kb)}, limit 20 MB`,
    );
    for (const driver of DATABASE_DRIVERS)
      check(!existsSync(join(verifier, 'node_modules', driver)), `the verifier does not install ${driver}`);
  }

  // The same apps in TypeScript.
  writeFileSync(join(app, 'app.ts'), PLUGIN_APP);
  writeFileSync(join(app, 'readme-example.ts'), readme.code);
  writeFileSync(join(verifier, 'server.ts'), verifierApp(specifier, true));
  await Promise.all([typecheck(app, home, env), typecheck(verifier, home, env)]);
  log(
    'plugin app, README example and resource server type-check under tsc --init defaults, skipLibCheck false',
  );
  return { node: version, app: appInstall, verifier: verifierInstall };
}

async function main(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  console.log(`packaging: packing in ${ROOT}, apps in ${WORK}`);
  const tarballs = await pack();
  for (const t of tarballs)
    console.log(
      `packaging: ${t.name}@${t.version}: ${t.entryCount} files, ${Math.round(t.size / 1024)} KB packed, ${Math.round(t.unpackedSize / 1024)} KB unpacked`,
    );
  const results = await Promise.all(NODES.map((version) => proveOn(version, tarballs)));
  const seconds = Math.round((performance.now() - started) / 1000);
  const first = results[0] as Result;
  console.log(
    `packaging: OK on ${results.map((r) => `node ${r.node}`).join(' and ')} in ${seconds} s — ` +
      `${tarballs.map((t) => `${t.name} ${t.entryCount} files`).join(', ')}; ` +
      `installed: plugin app ${first.app.packages} packages / ${megabytes(first.app.kb)}, ` +
      `verifier ${first.verifier.packages} packages / ${megabytes(first.verifier.kb)}`,
  );
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`packaging: FAILED — ${error instanceof Error ? error.message : String(error)}`);
} finally {
  for (const child of running) kill(child, 'SIGKILL');
  if (process.env.GATEHOUSE_PACKAGING_KEEP === '1') console.log(`packaging: kept ${WORK}`);
  else rmSync(WORK, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
