/**
 * A row of the settings table, as the loader sees it: which variables it reads, and how it turns
 * them, or a plugin option, into its typed value. `setting()` builds the row of one variable.
 */
import { SettingError, type ValueType } from './parsers.ts';
import type { Config } from './types.ts';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The values settled so far: earlier rows, for a rule across settings. */
export type Settled = Partial<Config>;

export interface Setting<K extends keyof Config = keyof Config> {
  readonly key: K;
  /** The variable; for a family of variables, the pattern docs/settings.md shows. */
  readonly env: string;
  readonly description: string;
  /** Shown in docs/settings.md. */
  readonly defaultText: string;
  /** Whether `name` is one of this row's variables (else a GATEHOUSE_ name is reported unknown). */
  readonly reads: (name: string) => boolean;
  /** The value from the environment; a broken rule throws SettingError. */
  readonly fromEnv: (env: Environment, settled: Settled) => Config[K];
  /** The value from the plugin option `key` (undefined: unset); a broken rule throws SettingError. */
  readonly fromOption: (value: unknown, settled: Settled) => Config[K];
}

/** Any row: the key and the value's type go together. */
export type AnySetting = { [K in keyof Config]: Setting<K> }[keyof Config];

export interface SettingSpec<K extends keyof Config> {
  readonly key: K;
  readonly env: string;
  readonly description: string;
  /** Shown in docs/settings.md; also the value when unset, read as the environment would be, unless `default`. */
  readonly defaultText: string;
  readonly type: ValueType<Config[K]>;
  /** The value when unset, when `defaultText` is not one (unset, or derived from other settings). */
  readonly default?: (settled: Settled) => Config[K];
  /** A rule across settings, checked on the final value (given or default). */
  readonly check?: (value: Config[K], settled: Settled) => void;
  /** A variable read when `env` is unset (hosting platforms name the port in `PORT`). */
  readonly fallbackEnv?: string;
}

/** The row of one variable: unset or empty (in the environment or as an option) means its default. */
export function setting<K extends keyof Config>(spec: SettingSpec<K>): Setting<K> {
  const { env, type, check, fallbackEnv } = spec;
  const unset = (settled: Settled): Config[K] =>
    spec.default ? spec.default(settled) : type.parse(spec.defaultText);
  const checked = (value: Config[K], settled: Settled): Config[K] => {
    check?.(value, settled);
    return value;
  };
  return {
    key: spec.key,
    env,
    description: spec.description,
    defaultText: spec.defaultText,
    reads: (name) => name === env,
    fromEnv: (environment, settled) => {
      const name =
        isUnset(environment[env]) && fallbackEnv !== undefined && !isUnset(environment[fallbackEnv])
          ? fallbackEnv
          : env;
      const raw = environment[name];
      try {
        return checked(isUnset(raw) ? unset(settled) : type.parse(raw), settled);
      } catch (error) {
        if (name === env || !(error instanceof SettingError)) throw error;
        throw new SettingError(error.message, name);
      }
    },
    fromOption: (value, settled) => checked(isUnset(value) ? unset(settled) : type.accept(value), settled),
  };
}

function isUnset(value: unknown): value is undefined | '' {
  return value === undefined || value === '';
}
