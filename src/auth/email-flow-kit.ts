/** What the emailed-link flows share: built once by `createEmailFlowService`. */
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/db.ts';
import type { EmailTokenRecord } from '../store/email-tokens.ts';
import type { Database, EmailTokenPurpose } from '../store/schema.ts';
import type { UserRecord } from '../store/users.ts';
import type { AccountService } from './accounts.ts';
import type { EmailFlowOptions } from './email-flows.ts';
import type { EmailLinks } from './email-links.ts';
import type { RateLimits } from './rate-limits.ts';
import type { RevocationState } from './revocation.ts';
import type { SessionService } from './sessions.ts';

/** Addresses compare case-insensitively. */
export const emailKey = (email: string): string => email.toLowerCase();

export interface EmailFlowKit extends Pick<EmailLinks, 'enqueueTemplate' | 'sendLink'> {
  readonly store: Store;
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly revocation: RevocationState;
  readonly rateLimits: RateLimits;
  readonly options: EmailFlowOptions;
  /** Work whose duration must not show in the response (it would tell whether an account exists). */
  inBackground(task: () => Promise<void>): void;
  /** The usable token and its user; InvalidEmailTokenError otherwise. */
  resolve(
    token: string,
    purpose: EmailTokenPurpose,
  ): Promise<{ hash: string; row: EmailTokenRecord; user: UserRecord | undefined }>;
  findByEmail(key: string): Promise<UserRecord | undefined>;
}
