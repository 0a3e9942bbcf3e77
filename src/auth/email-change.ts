/** Email change: a link to the new address confirms it; the old address is told. */
import { recordAuditEvent } from '../store/audit.ts';
import { spendEmailToken, spendUserEmailTokens } from '../store/email-tokens.ts';
import { replaceConfirmedEmail } from '../store/users.ts';
import { normalizeEmail } from './accounts.ts';
import { type EmailFlowKit, emailKey } from './email-flow-kit.ts';
import type { EmailFlowService } from './email-flows.ts';
import { EmailTakenError, InvalidEmailTokenError } from './errors.ts';
import { auditSource } from './request-context.ts';

export function createEmailChange(
  kit: EmailFlowKit,
): Pick<EmailFlowService, 'requestEmailChange' | 'confirmEmailChange'> {
  const { store, db, clock, accounts, rateLimits, resolve, sendLink, findByEmail, enqueueTemplate } = kit;
  return {
    async requestEmailChange(userId, newEmail, ctx) {
      const user = await accounts.getUserOrThrow(userId);
      const address = normalizeEmail(newEmail);
      if (address.key === emailKey(user.email)) return;
      const holder = await findByEmail(address.key);
      if (holder !== undefined && holder.id !== user.id) throw new EmailTakenError();
      await rateLimits.consumeMailAddress(address.key, { userId: user.id });
      // Only the newest request can be confirmed.
      await spendUserEmailTokens(db, user.id, 'email_change', clock.now());
      await sendLink(
        'email_change',
        address.display,
        { userId: user.id, email: user.email, newEmail: address.display },
        user.username,
      );
      await enqueueTemplate(user.email, 'email-change-notice', {
        username: user.username,
        new_email: address.display,
      });
      await recordAuditEvent(db, {
        event: 'email.change_requested',
        at: clock.now(),
        userId: user.id,
        ...auditSource(ctx),
        details: { fields: ['email'] },
      });
    },

    async confirmEmailChange(token, ctx) {
      const { hash, row, user } = await resolve(token, 'email_change');
      if (user === undefined || row.newEmail === null) throw new InvalidEmailTokenError('no user');
      const address = normalizeEmail(row.newEmail);
      const holder = await findByEmail(address.key);
      if (holder !== undefined && holder.id !== user.id) throw new EmailTakenError();
      const now = clock.now();
      let done: boolean;
      try {
        done = await db.transaction().execute(async (trx) => {
          if (!(await spendEmailToken(trx, hash, 'email_change', now))) return false;
          if (!(await replaceConfirmedEmail(trx, user.id, emailKey(row.email), address, now))) {
            throw new InvalidEmailTokenError('address changed');
          }
          await recordAuditEvent(trx, {
            event: 'email.changed',
            at: now,
            userId: user.id,
            ...auditSource(ctx),
            details: { fields: ['email'] },
          });
          return true;
        });
      } catch (error) {
        // Taken between the check above and the update: the unique index decides.
        if (store.isUniqueViolation(error)) throw new EmailTakenError();
        throw error;
      }
      if (!done) throw new InvalidEmailTokenError('spent');
      accounts.usersChanged([user.id]);
    },
  };
}
