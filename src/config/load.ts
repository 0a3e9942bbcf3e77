/**
 * Loading: the environment (or plugin options) through every row of the settings table, one
 * error listing every problem, then a frozen Config. The only module that reads `process.env`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { SettingError } from './parsers.ts';
import type { AnySetting, Environment, Setting, Settled } from './setting.ts';
import { SETTINGS } from './settings.ts';
import type { Config, GatehouseOptions } from './types.ts';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Reads `.env` (when present) under the real environment, which wins. */
export function readEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  dotenvPath = '.env',
): Record<string, string | undefined> {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...env };
}

/** Validates every setting, throws one ConfigError listing every problem, returns a frozen Config. */
export function loadConfig(env: Environment = readEnvironment()): Config {
  return loadConfigFrom(SETTINGS, env);
}

/** loadConfig with another table (tests of the loader itself). */
export function loadConfigFrom(table: readonly AnySetting[], env: Environment): Config {
  const { config, problems } = settle(
    table,
    (row, settled) => row.fromEnv(env, settled),
    (row, error) => `${error.variable ?? row.env} ${error.message}`,
  );
  for (const name of Object.keys(env)) {
    if (
      name.startsWith('GATEHOUSE_') &&
      !name.startsWith('GATEHOUSE_TEST_') &&
      !table.some((row) => row.reads(name))
    ) {
      problems.push(`${name} is not a Gatehouse setting (see docs/settings.md)`);
    }
  }
  if (config === undefined || problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Validates plugin options by the rules the environment is validated by, without reading it.
 * A bad or unknown option is a developer's mistake: a TypeError naming it.
 */
export function configFromOptions(options: GatehouseOptions): Config {
  const keys = new Set<string>(SETTINGS.map((row) => row.key));
  for (const key of Object.keys(options)) {
    if (!keys.has(key)) throw new TypeError(`gatehouse: unknown option "${key}"`);
  }
  const { config, problems } = settle(
    SETTINGS,
    (row, settled) => row.fromOption(options[row.key], settled),
    (row, error) => `option "${row.key}" ${error.message}`,
  );
  if (config === undefined || problems.length > 0) throw new TypeError(`gatehouse: ${problems.join('; ')}`);
  return config;
}

type Mutable = { -readonly [K in keyof Config]?: Config[K] };

/**
 * Every row in order, each reading the values settled before it. A broken rule becomes a
 * problem; a row reading several variables may report several at once in an AggregateError.
 */
function settle(
  table: readonly AnySetting[],
  value: <K extends keyof Config>(row: Setting<K>, settled: Settled) => Config[K],
  problem: (row: AnySetting, error: SettingError) => string,
): { config: Config | undefined; problems: string[] } {
  const settled: Mutable = {};
  const problems: string[] = [];
  const put = <K extends keyof Config>(row: Setting<K>) => {
    settled[row.key] = value(row, settled);
  };
  for (const row of table) {
    try {
      put(row);
    } catch (error) {
      const errors: unknown[] = error instanceof AggregateError ? error.errors : [error];
      if (!errors.every((each) => each instanceof SettingError)) throw error;
      problems.push(...errors.map((each) => problem(row, each)));
    }
  }
  return { config: isComplete(settled) ? Object.freeze(settled) : undefined, problems };
}

/** Each value has its key's type (each row is typed so); this checks that every key has one. */
function isComplete(settled: Mutable): settled is Config {
  return SETTINGS.every((row) => row.key in settled);
}
