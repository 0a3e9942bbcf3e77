/**
 * Builds a real Gatehouse for a test: SQLite in memory by default, or a fresh PostgreSQL schema
 * when GATEHOUSE_TEST_DATABASE_URL is set (CI sets it). Argon2 is cheap here unless asked.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { type Clock, createManualClock } from '../../src/clock.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.ts';
import { buildServer } from '../../src/server.ts';

export const TEST_DATABASE_URL = process.env.GATEHOUSE_TEST_DATABASE_URL;
/** Redis for the tests of several processes; they are skipped without it (CI sets it). */
export const TEST_REDIS_URL = process.env.GATEHOUSE_TEST_REDIS_URL;

/** A key prefix no other test run uses, so tests can share one Redis. */
export const uniqueRedisPrefix = () => `gh_test_${randomBytes(6).toString('hex')}:`;

/** The databases every store test runs against: SQLite always, PostgreSQL when configured. */
export const DATABASES: readonly { name: string; url: string | undefined }[] = [
  { name: 'sqlite', url: undefined },
  ...(TEST_DATABASE_URL ? [{ name: 'postgres', url: TEST_DATABASE_URL }] : []),
];

export const FAST_ARGON2 = {
  GATEHOUSE_ARGON2_MEMORY_KIB: '1024',
  GATEHOUSE_ARGON2_ITERATIONS: '1',
};

/** Most tests log in and register far more than a client should; the rate-limit tests set their own. */
export const NO_RATE_LIMITS = {
  GATEHOUSE_RATE_LIMIT_TOKEN: 'off',
  GATEHOUSE_RATE_LIMIT_LOGIN: 'off',
  GATEHOUSE_RATE_LIMIT_REGISTER: 'off',
  GATEHOUSE_RATE_LIMIT_BASIC: 'off',
  GATEHOUSE_LOGIN_MAX_FAILURES: 'off',
  GATEHOUSE_RATE_LIMIT_MAIL: 'off',
  GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS: 'off',
  GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS_IP: 'off',
};

/** Generous database timeouts: a loaded machine is not a database outage. */
export const SLOW_MACHINE_TIMEOUTS = {
  GATEHOUSE_DATABASE_STATEMENT_TIMEOUT: '30s',
  GATEHOUSE_DATABASE_CONNECT_TIMEOUT: '30s',
};

export interface TestApp {
  readonly app: FastifyInstance;
  readonly gatehouse: Gatehouse;
  readonly config: Config;
  readonly clock: Clock & { advance(ms: number): void };
  /** Every log line the server wrote, as text. */
  readonly logs: () => string;
  /** The PostgreSQL schema this app uses, when on PostgreSQL. */
  readonly pgSchema: string | undefined;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** GATEHOUSE_* settings on top of the test defaults. */
  readonly env?: Record<string, string>;
  /** 'sqlite' (default, in memory) or a postgres URL. */
  readonly databaseUrl?: string | undefined;
  /** Use OWASP argon2 parameters instead of the cheap test ones. */
  readonly realArgon2?: boolean;
  /** Share another test app's PostgreSQL schema (several processes on one database). */
  readonly sharePgSchemaOf?: TestApp;
  /** Share another test app's clock (several processes reading one time). */
  readonly clock?: TestApp['clock'];
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? 'sqlite::memory:';
  const env: Record<string, string> = {
    GATEHOUSE_DATABASE_URL: databaseUrl,
    GATEHOUSE_ISSUER: 'http://gatehouse.test',
    GATEHOUSE_LOG_LEVEL: 'info',
    // Files run side by side on a busy machine: a query may wait longer than the 2 s default
    // before its turn. The outage tests set their own.
    ...SLOW_MACHINE_TIMEOUTS,
    ...(options.realArgon2 ? {} : FAST_ARGON2),
    ...NO_RATE_LIMITS,
    ...options.env,
  };
  const config = loadConfig(env);
  const clock = options.clock ?? createManualClock(Date.now());
  const ownsSchema = options.sharePgSchemaOf === undefined;
  const pgSchema = !databaseUrl.startsWith('postgres')
    ? undefined
    : (options.sharePgSchemaOf?.pgSchema ?? `gh_test_${randomBytes(6).toString('hex')}`);
  const gatehouse = await createGatehouse(config, { clock, ...(pgSchema ? { pgSchema } : {}) });
  const chunks: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const app = await buildServer(gatehouse, { logStream });
  await app.ready();
  return {
    app,
    gatehouse,
    config,
    clock,
    logs: () => chunks.join(''),
    pgSchema,
    async close() {
      await app.close();
      // Mail work decided in the background must not race the schema's removal.
      await gatehouse.emailFlows.settled();
      if (pgSchema && ownsSchema)
        await sql`drop schema if exists ${sql.id(pgSchema)} cascade`.execute(gatehouse.store.db);
      await gatehouse.close();
    },
  };
}

export const PASSWORD = 'correct horse battery staple';

/** Registers a user through the API and returns the response body. */
export async function registerUser(
  app: FastifyInstance,
  username: string,
  extra: { email?: string; password?: string; full_name?: string } = {},
): Promise<{ id: string; username: string }> {
  const response = await app.inject({
    method: 'POST',
    url: '/register',
    payload: {
      username,
      email: extra.email ?? `${username}@example.com`,
      password: extra.password ?? PASSWORD,
      ...(extra.full_name ? { full_name: extra.full_name } : {}),
    },
  });
  if (response.statusCode !== 201)
    throw new Error(`register ${username}: ${response.statusCode} ${response.body}`);
  return response.json();
}

/** Logs in through `POST /token` and returns the access token. */
export async function login(
  app: FastifyInstance,
  username: string,
  password = PASSWORD,
  scope?: string,
): Promise<string> {
  const form = new URLSearchParams({ username, password, ...(scope ? { scope } : {}) });
  const response = await app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form.toString(),
  });
  if (response.statusCode !== 200)
    throw new Error(`login ${username}: ${response.statusCode} ${response.body}`);
  return response.json().access_token;
}
