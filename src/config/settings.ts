/**
 * The settings table: one row per setting, in the order docs/settings.md lists them and the loader
 * settles them (a row may read the rows before it). The rows live by area in settings/.
 */
import type { AnySetting } from './setting.ts';
import { CLIENT_SETTINGS } from './settings/clients.ts';
import { EXTERNAL_SIGN_IN_SETTINGS } from './settings/external-sign-in.ts';
import { FACTOR_SETTINGS } from './settings/factors.ts';
import { LIMIT_SETTINGS } from './settings/limits.ts';
import { MAIL_SETTINGS } from './settings/mail.ts';
import { OPERATION_SETTINGS } from './settings/operations.ts';
import { PASSWORD_SETTINGS } from './settings/passwords.ts';
import { SERVER_SETTINGS } from './settings/server.ts';
import { TOKEN_SETTINGS } from './settings/tokens.ts';
import type { Config } from './types.ts';

const ROWS = [
  ...SERVER_SETTINGS,
  ...TOKEN_SETTINGS,
  ...PASSWORD_SETTINGS,
  ...LIMIT_SETTINGS,
  ...OPERATION_SETTINGS,
  ...MAIL_SETTINGS,
  ...FACTOR_SETTINGS,
  ...EXTERNAL_SIGN_IN_SETTINGS,
  ...CLIENT_SETTINGS,
];

/** The keys of Config that no row sets; the compiler names them here. */
type Unlisted = Exclude<keyof Config, (typeof ROWS)[number]['key']>;
true satisfies [Unlisted] extends [never] ? true : { missing: Unlisted };

export const SETTINGS: readonly AnySetting[] = ROWS;
