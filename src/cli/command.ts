/** What a `gatehouse` command is, and the Gatehouse it runs against. */
import type { Config } from '../config.ts';
import { createGatehouse, type Gatehouse } from '../gatehouse.ts';
import type { CommandShape, Values } from './arguments.ts';

export interface Command extends CommandShape {
  /** It may create a new SQLite database (and its directory); the others open an existing one. */
  readonly createsDatabase: boolean;
  run(config: Config, values: Values, positionals: string[]): Promise<number>;
}

/** A string option's value (undefined when absent). */
export const text = (value: Values[string]) => (typeof value === 'string' ? value : undefined);

/** A repeatable string option's values. */
export const texts = (value: Values[string]): string[] | undefined =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : undefined;

export async function withGatehouse<T>(
  config: Config,
  run: (gatehouse: Gatehouse) => Promise<T>,
): Promise<T> {
  const gatehouse = await createGatehouse(config);
  try {
    return await run(gatehouse);
  } finally {
    await gatehouse.close();
  }
}
