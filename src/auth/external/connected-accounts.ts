/** The user's connected accounts: list them, disconnect one (never the last way in), read stored tokens. */
import type { Clock } from '../../clock.ts';
import { recordAuditEvent } from '../../store/audit.ts';
import type { Store } from '../../store/db.ts';
import { listFactors } from '../../store/factors.ts';
import { deleteIdentity, findIdentityTokens, listUserIdentities } from '../../store/identities.ts';
import { findUserById } from '../../store/users.ts';
import { IdentityNotFoundError, LastSignInMethodError } from '../errors.ts';
import { auditSource } from '../request-context.ts';
import type { ExternalSignInService } from './sign-in.ts';
import type { TokenVault } from './token-vault.ts';

export function createConnectedAccounts(deps: {
  store: Store;
  clock: Clock;
  vault: TokenVault | undefined;
  displayName: (provider: string) => string;
}): Pick<ExternalSignInService, 'listIdentities' | 'providerTokens' | 'unlink'> {
  const { store, clock, vault, displayName } = deps;
  const db = store.db;
  return {
    async listIdentities(userId) {
      return (await listUserIdentities(db, userId)).map((identity) => ({
        id: identity.id,
        provider: identity.provider,
        displayName: displayName(identity.provider),
        email: identity.email,
        emailVerified: identity.emailVerified,
        createdAt: identity.createdAt,
        lastUsedAt: identity.lastUsedAt,
      }));
    },

    async providerTokens(userId, provider) {
      if (vault === undefined) return undefined;
      const found = await findIdentityTokens(db, userId, provider);
      return found === undefined ? undefined : vault.open(found.id, found.sealed);
    },

    async unlink(userId, identityId, ctx) {
      const now = clock.now();
      // One at a time per user: two unlinks racing must not leave the account without a way in.
      await store.exclusiveTransaction(`identities:${userId}`, async (trx) => {
        const identities = await listUserIdentities(trx, userId);
        const target = identities.find((identity) => identity.id === identityId);
        if (target === undefined) throw new IdentityNotFoundError();
        const user = await findUserById(trx, userId);
        if (user === undefined) throw new IdentityNotFoundError();
        // A password, another connected account or a passkey is a way in; a one-time code is not.
        const passkeys = (await listFactors(trx, userId, true)).filter((f) => f.type === 'webauthn');
        if (user.passwordHash === null && identities.length === 1 && passkeys.length === 0)
          throw new LastSignInMethodError();
        await deleteIdentity(trx, userId, identityId);
        await recordAuditEvent(trx, {
          event: 'identity.unlinked',
          at: now,
          userId,
          ...auditSource(ctx),
          target: identityId,
          details: { provider: target.provider },
        });
      });
    },
  };
}
