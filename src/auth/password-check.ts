/**
 * The one check of a password, wherever it is asked for: a login (`/token`, `/login`, HTTP
 * Basic), a signed-in user's current password (password change, `/reauthenticate`, and any
 * later factor management). Each goes through the failed-login throttle before the hash, and
 * each failure is audited as `login.failed` and counted, so no route is a way around the limit.
 */

import type { Clock } from '../clock.ts';
import { recordAuditEvent } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { UserRecord } from '../store/users.ts';
import { type AccountService, loginKey } from './accounts.ts';
import { InactiveUserError, IncorrectPasswordError, InvalidCredentialsError } from './errors.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { auditSource, type RequestContext } from './request-context.ts';

/** Why a password is checked: a login, or a signed-in user proving it again. */
export type PasswordCheckPurpose = 'login' | 'password_change' | 'reauthenticate';

export interface PasswordCheck {
  /**
   * Checks `password` for `known`, the account the login `typedLogin` names (undefined: none).
   * Throws LoginThrottledError before any hash, or InvalidCredentialsError / InactiveUserError.
   */
  check(
    known: UserRecord | undefined,
    typedLogin: string,
    password: string,
    ctx: RequestContext,
    purpose: PasswordCheckPurpose,
  ): Promise<UserRecord>;
  /**
   * A signed-in user's current password, counted as a login by their username from this IP;
   * a wrong one is IncorrectPasswordError.
   */
  checkCurrent(
    user: UserRecord,
    password: string,
    ctx: RequestContext,
    purpose: Exclude<PasswordCheckPurpose, 'login'>,
  ): Promise<UserRecord>;
}

export function createPasswordCheck(deps: {
  accounts: AccountService;
  throttle: LoginThrottle;
  store: Store;
  clock: Clock;
}): PasswordCheck {
  const { accounts, throttle, store, clock } = deps;

  async function check(
    known: UserRecord | undefined,
    typedLogin: string,
    password: string,
    ctx: RequestContext,
    purpose: PasswordCheckPurpose,
  ): Promise<UserRecord> {
    const attempt = {
      userId: known?.id ?? null,
      loginKey: loginKey(typedLogin),
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    };
    // Before the hash: a blocked client costs no hash, and even the right password is refused.
    await throttle.admit(attempt);
    try {
      const user = await accounts.authenticate(known, password);
      await throttle.recordSuccess(attempt);
      return user;
    } catch (error) {
      if (error instanceof InvalidCredentialsError || error instanceof InactiveUserError) {
        await recordAuditEvent(store.db, {
          event: 'login.failed',
          at: clock.now(),
          userId: known?.id ?? null,
          ...auditSource(ctx),
          details: {
            reason:
              error instanceof InactiveUserError
                ? 'inactive_user'
                : known
                  ? 'wrong_password'
                  : 'unknown_user',
            ...(purpose === 'login' ? {} : { purpose }),
          },
        });
      }
      // A disabled account with the right password is refused, but was not a guess.
      if (error instanceof InvalidCredentialsError) await throttle.recordFailure(attempt);
      throw error;
    }
  }

  return {
    check,
    async checkCurrent(user, password, ctx, purpose) {
      try {
        return await check(user, user.username, password, ctx, purpose);
      } catch (error) {
        if (error instanceof InvalidCredentialsError) throw new IncorrectPasswordError();
        throw error;
      }
    },
  };
}
