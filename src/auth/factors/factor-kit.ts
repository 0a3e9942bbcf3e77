/** What the factor operations share: built once by `createFactorService`. */
import type { Clock } from '../../clock.ts';
import type { MfaPolicy } from '../../config/types.ts';
import type { Store } from '../../store/db.ts';
import type { FactorRecord } from '../../store/factors.ts';
import type { UserRecord } from '../../store/users.ts';
import type { AccountService } from '../accounts.ts';
import type { SecretBox } from '../encryption.ts';
import type { FactorSummary } from '../errors.ts';
import type { LoginAttempt, LoginThrottle } from '../login-throttle.ts';
import type { RoleService } from '../permissions.ts';
import type { RequestContext } from '../request-context.ts';

export interface FactorOptions {
  readonly appName: string;
  readonly mfaPolicy: MfaPolicy;
  /** WebAuthn relying party: the host of `GATEHOUSE_PUBLIC_URL`, and its origin. */
  readonly rpId: string;
  readonly origin: string;
}

export interface FactorKit {
  readonly store: Store;
  readonly clock: Clock;
  readonly accounts: AccountService;
  readonly roles: RoleService;
  readonly throttle: LoginThrottle;
  readonly secretBox: SecretBox;
  readonly options: FactorOptions;
  /** Queues the `factor-notice` mail to the user, saying `change`. */
  notify(user: UserRecord, change: string): Promise<void>;
}

/** The AAD a TOTP secret is encrypted under: a secret copied to another row does not decrypt. */
export const totpAad = (factor: { id: string; userId: string }) => `totp:${factor.userId}:${factor.id}`;

export const summaryOf = (factor: FactorRecord): FactorSummary => ({
  id: factor.id,
  type: factor.type,
  name: factor.name,
});

/**
 * Second-step codes count in the failed-login throttle per account, from every address alike:
 * whoever reaches this step has the password, and six digits must not be guessable from many IPs.
 */
export function secondStepAttempt(user: { id: string }, ctx: RequestContext): LoginAttempt {
  return {
    userId: user.id,
    loginKey: `mfa:${user.id}`,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    anyAddress: true,
  };
}
