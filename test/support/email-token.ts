/** An emailed-link token stored directly, for tests that need a working link without reading mail. */
import { createHash, randomBytes } from 'node:crypto';
import { insertEmailToken } from '../../src/store/email-tokens.ts';
import type { EmailTokenPurpose } from '../../src/store/schema.ts';
import type { TestApp } from './gatehouse.ts';

/** Stores a token of `purpose` for the user, valid for ten minutes, and returns the link's token. */
export async function storeEmailToken(
  t: TestApp,
  purpose: EmailTokenPurpose,
  user: { id: string; email: string },
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const now = t.clock.now();
  await insertEmailToken(t.gatehouse.store.db, {
    tokenHash: createHash('sha256').update(token).digest('base64url'),
    purpose,
    userId: user.id,
    email: user.email,
    newEmail: null,
    expiresAt: now + 600_000,
    createdAt: now,
  });
  return token;
}
