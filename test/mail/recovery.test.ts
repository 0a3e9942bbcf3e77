/**
 * Recovery evicts an intruder: with a stolen access token an attacker creates an API key and
 * mails themselves an email-change link; the victim's password reset and "log out everywhere"
 * must end both.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EmailTokenPurpose } from '../../src/auth/email-flows.ts';
import { insertEmailToken } from '../../src/store/email-tokens.ts';
import { browserFormHeaders, form } from '../pages/form-client.ts';
import { DATABASES, login, registerUser, type TestApp } from '../support/gatehouse.ts';
import { type MailApp, withMailApp } from '../support/mail-app.ts';
import { mailTo, tokenFrom } from '../support/smtp.ts';

const NEW_PASSWORD = 'a fresh password after the scare';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const me = (t: TestApp, credential: string) =>
  t.app.inject({ method: 'GET', url: '/users/me', headers: bearer(credential) });

/** A verified victim, and what an attacker holding one of their access tokens leaves behind. */
async function intrusion(m: MailApp): Promise<{ apiKey: string; emailChange: string }> {
  const { t, smtp, deliver, post } = m;
  await registerUser(t.app, 'victim');
  await deliver();
  const verify = tokenFrom(mailTo(smtp.messages, 'victim@example.com')[0], '/verify-email');
  assert.equal((await post('/verify', { token: verify })).statusCode, 204);

  const stolen = await login(t.app, 'victim');
  const key = await post('/api-keys', { name: 'ci', scopes: ['profile:read'] }, bearer(stolen));
  assert.equal(key.statusCode, 201);
  const change = await t.app.inject({
    method: 'PATCH',
    url: '/users/me',
    headers: bearer(stolen),
    payload: { email: 'attacker@evil.test' },
  });
  assert.equal(change.statusCode, 200);
  await deliver();
  const emailChange = tokenFrom(mailTo(smtp.messages, 'attacker@evil.test')[0], '/confirm-email');
  return { apiKey: key.json().key, emailChange };
}

/** Every purpose an emailed link can have: a new purpose fails to compile until listed here. */
const PURPOSES = Object.keys({
  verify: true,
  reset: true,
  magic: true,
  email_change: true,
} satisfies Record<EmailTokenPurpose, true>) as EmailTokenPurpose[];

/** One outstanding link of every purpose for the user; returns how many are still unspent. */
async function seedLinks(t: TestApp, userId: string): Promise<() => Promise<number>> {
  const now = t.clock.now();
  for (const [i, purpose] of PURPOSES.entries()) {
    await insertEmailToken(t.gatehouse.store.db, {
      tokenHash: `seeded-${purpose}-${i}`,
      purpose,
      userId,
      email: 'victim@example.com',
      newEmail: purpose === 'email_change' ? 'elsewhere@example.com' : null,
      expiresAt: now + 3_600_000,
      createdAt: now,
    });
  }
  return async () => {
    const rows = await t.gatehouse.store.db
      .selectFrom('email_tokens')
      .select('purpose')
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .execute();
    return rows.length;
  };
}

async function resetLink(m: MailApp): Promise<string> {
  assert.equal((await m.post('/forgot-password', { email: 'victim@example.com' })).statusCode, 202);
  await m.deliver();
  return tokenFrom(mailTo(m.smtp.messages, 'victim@example.com').at(-1), '/reset-password');
}

for (const database of DATABASES) {
  describe(`recovery ends every foothold (${database.name})`, () => {
    test("a password reset and log out everywhere end the intruder's API key and email-change link", async () => {
      await withMailApp(database.url, {}, async (m) => {
        const { t, post } = m;
        const footholds = await intrusion(m);
        const reset = await resetLink(m);
        assert.equal(
          (await post('/reset-password', { token: reset, new_password: NEW_PASSWORD })).statusCode,
          204,
        );
        const access = await login(t.app, 'victim', NEW_PASSWORD);
        const everywhere = await t.app.inject({
          method: 'DELETE',
          url: '/sessions',
          headers: bearer(access),
        });
        assert.equal(everywhere.statusCode, 204);

        assert.equal((await me(t, footholds.apiKey)).statusCode, 401, 'the API key is revoked');
        const confirm = await post('/users/me/email/confirm', { token: footholds.emailChange });
        assert.equal(confirm.statusCode, 400, 'the email-change link is spent');
        const user = await t.gatehouse.accounts.findByUsername('victim');
        assert.equal(user?.email, 'victim@example.com');
        const audit = await t.gatehouse.store.db
          .selectFrom('audit_events')
          .select('details')
          .where('event', '=', 'password.reset')
          .executeTakeFirstOrThrow();
        assert.equal(JSON.parse(audit.details).api_keys_revoked, 1);
      });
    });

    test('log out everywhere alone spends every outstanding emailed link', async () => {
      await withMailApp(database.url, {}, async (m) => {
        const { t, post } = m;
        const footholds = await intrusion(m);
        const reset = await resetLink(m);
        const access = await login(t.app, 'victim');
        await t.app.inject({ method: 'DELETE', url: '/sessions', headers: bearer(access) });
        assert.equal(
          (await post('/users/me/email/confirm', { token: footholds.emailChange })).statusCode,
          400,
        );
        assert.equal(
          (await post('/reset-password', { token: reset, new_password: NEW_PASSWORD })).statusCode,
          400,
        );
      });
    });

    test('a reset and log out everywhere each spend an outstanding link of every purpose', async () => {
      await withMailApp(database.url, {}, async (m) => {
        const { t, post } = m;
        const { id } = await registerUser(t.app, 'victim');
        const reset = await resetLink(m);
        let unspent = await seedLinks(t, id);
        assert.equal(
          await unspent(),
          PURPOSES.length + 2,
          'the seeded links, the verification and the reset',
        );
        assert.equal(
          (await post('/reset-password', { token: reset, new_password: NEW_PASSWORD })).statusCode,
          204,
        );
        assert.equal(await unspent(), 0, 'after a reset');

        await t.gatehouse.store.db.deleteFrom('email_tokens').execute();
        unspent = await seedLinks(t, id);
        const access = await login(t.app, 'victim', NEW_PASSWORD);
        await t.app.inject({ method: 'DELETE', url: '/sessions', headers: bearer(access) });
        assert.equal(await unspent(), 0, 'after log out everywhere');
      });
    });

    test('keep_api_keys: true keeps the keys; the reset page offers it unchecked with their number', async () => {
      await withMailApp(database.url, {}, async (m) => {
        const { t, post } = m;
        const footholds = await intrusion(m);
        const reset = await resetLink(m);
        const page = await t.app.inject({ method: 'GET', url: `/reset-password?token=${reset}` });
        assert.match(
          page.body,
          /<input id="keep-api-keys" name="keep_api_keys" type="checkbox" value="true"/,
        );
        assert.doesNotMatch(page.body, /name="keep_api_keys"[^>]*checked/);
        assert.match(page.body, /Keep my 1 API key working/);
        const bad = await post('/reset-password', {
          token: reset,
          new_password: NEW_PASSWORD,
          keep_api_keys: 'yes',
        });
        assert.equal(bad.statusCode, 422, 'a JSON flag must be a boolean');

        // The page's form with the box ticked.
        const submitted = await t.app.inject({
          method: 'POST',
          url: '/reset-password',
          headers: browserFormHeaders(),
          payload: form({ token: reset, new_password: NEW_PASSWORD, keep_api_keys: 'true' }),
        });
        assert.equal(submitted.statusCode, 303);
        assert.equal((await me(t, footholds.apiKey)).statusCode, 200, 'the key was kept');
        assert.equal(
          (await post('/users/me/email/confirm', { token: footholds.emailChange })).statusCode,
          400,
        );
        assert.ok(await login(t.app, 'victim', NEW_PASSWORD), 'the new password works');
      });
    });
  });
}
