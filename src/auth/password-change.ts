/** Password change by the signed-in user: proves the current one, ends every other session. */
import { recordAuditEvent } from '../store/audit.ts';
import { setPasswordHash } from '../store/users.ts';
import { checkPasswordPolicy, type PasswordHasher } from './passwords.ts';
import { auditSource, type RequestContext } from './request-context.ts';
import type { SessionKit } from './session-kit.ts';

/**
 * The hash of a user's new password (`new_password`) once it passes the policy: the one step
 * that password change and password reset share.
 */
export async function hashNewPassword(
  hasher: PasswordHasher,
  user: { readonly username: string; readonly email: string },
  newPassword: string,
  minLength: number,
): Promise<string> {
  checkPasswordPolicy(newPassword, minLength, { username: user.username, email: user.email }, 'new_password');
  return hasher.hash(newPassword);
}

export async function changePassword(
  kit: SessionKit,
  userId: string,
  currentPassword: string,
  newPassword: string,
  currentSessionId: string | undefined,
  ctx: RequestContext,
): Promise<void> {
  const { db, clock, options, revocation, accounts, hasher } = kit;
  const user = await kit.checkCurrentPassword(
    await accounts.getUserOrThrow(userId),
    currentPassword,
    ctx,
    'password_change',
  );
  const passwordHash = await hashNewPassword(hasher, user, newPassword, options.passwordMinLength);
  const now = clock.now();
  const revoked = await db.transaction().execute(async (trx) => {
    await setPasswordHash(trx, userId, passwordHash, now);
    const ids = await kit.revokeAndRemember(
      trx,
      { userId, ...(currentSessionId ? { exceptId: currentSessionId } : {}) },
      'password changed',
    );
    await recordAuditEvent(trx, {
      event: 'password.changed',
      at: now,
      userId,
      sessionId: currentSessionId ?? null,
      ...auditSource(ctx),
      details: { fields: ['password'], sessions_revoked: ids.length },
    });
    return ids;
  });
  accounts.usersChanged([userId]);
  revocation.markSessionsRevoked(revoked, now);
}
