/** The `maxAge` of `requireRecentAuth`: whole seconds, or a duration such as `'5m'`. */
import { parseDurationSeconds } from '../config.ts';
import type { RecentAuthOptions } from './guards.ts';

export function maxAgeSecondsOf(options: RecentAuthOptions | undefined, fallback: number): number {
  const maxAge = options?.maxAge;
  if (maxAge === undefined) return fallback;
  if (typeof maxAge === 'number') {
    if (!Number.isInteger(maxAge) || maxAge < 0) {
      throw new TypeError(
        'requireRecentAuth: option "maxAge" must be whole seconds (0 or more) or a duration such as "5m"',
      );
    }
    return maxAge;
  }
  try {
    return parseDurationSeconds(maxAge);
  } catch {
    throw new TypeError(
      'requireRecentAuth: option "maxAge" must be whole seconds or a duration such as "5m"',
    );
  }
}
