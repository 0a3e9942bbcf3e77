/**
 * Pre-account hijacking: an attacker registers the victim's address with their own password and
 * waits. When the victim proves the mailbox (magic link, password reset), the account becomes
 * theirs and every credential the attacker held stops working.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { browserFormHeaders, cookieOf, form } from '../pages/form-client.ts';
import { DATABASES, type TestApp } from '../support/gatehouse.ts';
import { type MailApp, tokenGrant, withMailApp } from '../support/mail-app.ts';
import { mailTo, tokenFrom } from '../support/smtp.ts';

const VICTIM = 'victim@example.com';
const ATTACKER_PASSWORD = 'attacker chose this one';
const VICTIM_PASSWORD = 'the victim picks a new one';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const me = (t: TestApp, credential: string) =>
  t.app.inject({ method: 'GET', url: '/users/me', headers: bearer(credential) });
const passwordLogin = (t: TestApp, password: string) => tokenGrant(t, { username: 'squatter', password });

/** The attacker's footholds in the account they registered with the victim's address. */
interface Footholds {
  readonly access: string;
  readonly refresh: string;
  readonly apiKey: string;
  /** The token of an email-change link the attacker had mailed to their own address. */
  readonly emailChange: string;
}

async function squat(m: MailApp, withSession: boolean): Promise<Footholds | undefined> {
  const { t, smtp, deliver, post } = m;
  const registered = await post('/register', {
    username: 'squatter',
    email: VICTIM,
    password: ATTACKER_PASSWORD,
  });
  assert.equal(registered.statusCode, 201);
  if (!withSession) return undefined;
  const login = await passwordLogin(t, ATTACKER_PASSWORD);
  assert.equal(login.statusCode, 200);
  const { access_token: access, refresh_token: refresh } = login.json();
  const key = await post('/api-keys', { name: 'backdoor', scopes: ['profile:read'] }, bearer(access));
  assert.equal(key.statusCode, 201);
  const change = await t.app.inject({
    method: 'PATCH',
    url: '/users/me',
    headers: bearer(access),
    payload: { email: 'squatter@evil.test' },
  });
  assert.equal(change.statusCode, 200);
  await deliver();
  const emailChange = tokenFrom(mailTo(smtp.messages, 'squatter@evil.test').at(-1), '/confirm-email');
  assert.equal((await me(t, key.json().key)).statusCode, 200, 'the key works before the claim');
  return { access, refresh, apiKey: key.json().key, emailChange };
}

/** The victim asks for a sign-in link; the token of the link they get. */
async function mailedMagicLink(m: MailApp): Promise<string> {
  assert.equal((await m.post('/magic-link', { email: VICTIM })).statusCode, 202);
  await m.deliver();
  return tokenFrom(mailTo(m.smtp.messages, VICTIM).at(-1), '/magic-link');
}

/** The victim signs in by a magic link, exchanged for tokens. */
async function victimSignsInByMagicLink(m: MailApp): Promise<string> {
  const token = await mailedMagicLink(m);
  const signedIn = await tokenGrant(m.t, { grant_type: 'urn:gatehouse:grant-type:magic-link', token });
  assert.equal(signedIn.statusCode, 200, signedIn.body);
  return signedIn.json().access_token;
}

async function assertFootholdsGone(m: MailApp, footholds: Footholds): Promise<void> {
  const { t, post } = m;
  assert.equal((await me(t, footholds.access)).statusCode, 401, 'the access token is refused');
  const refreshed = await tokenGrant(t, { grant_type: 'refresh_token', refresh_token: footholds.refresh });
  assert.equal(refreshed.statusCode, 400, 'the refresh token is refused');
  assert.equal((await me(t, footholds.apiKey)).statusCode, 401, 'the API key is refused');
  const confirm = await post('/users/me/email/confirm', { token: footholds.emailChange });
  assert.equal(confirm.statusCode, 400, "the attacker's email change link is spent");
}

async function claimEvents(t: TestApp): Promise<Record<string, unknown>[]> {
  const rows = await t.gatehouse.store.db
    .selectFrom('audit_events')
    .select('details')
    .where('event', '=', 'account.claimed')
    .execute();
  return rows.map((row) => JSON.parse(row.details));
}

for (const database of DATABASES) {
  describe(`claiming a pre-registered account (${database.name})`, () => {
    test('a magic-link sign-in to an unverified account ends every foothold of its registrant', async () => {
      await withMailApp(database.url, {}, async (m) => {
        const { t, smtp, deliver, post } = m;
        const footholds = await squat(m, true);
        assert.ok(footholds);
        const victim = await victimSignsInByMagicLink(m);

        await assertFootholdsGone(m, footholds);
        const login = await passwordLogin(t, ATTACKER_PASSWORD);
        assert.equal(login.statusCode, 401, "the attacker's password is gone");
        assert.equal(login.json().detail, 'Incorrect username or password');
        const basic = await t.app.inject({
          method: 'GET',
          url: '/protected/basic',
          headers: {
            authorization: `Basic ${Buffer.from(`squatter:${ATTACKER_PASSWORD}`).toString('base64')}`,
          },
        });
        assert.equal(basic.statusCode, 401, 'HTTP Basic with no password is a clean 401');

        const profile = await me(t, victim);
        assert.equal(profile.statusCode, 200, "the victim's new session works");
        assert.equal(profile.json().email_verified, true);
        assert.deepEqual(await claimEvents(t), [
          {
            fields: ['email_verified', 'password'],
            method: 'magic_link',
            sessions_revoked: 1,
            api_keys_revoked: 1,
            links_spent: 2,
            password_removed: true,
          },
        ]);

        // Without a password, the owner sets one by "forgot password".
        const change = await t.app.inject({
          method: 'POST',
          url: '/users/me/password',
          headers: bearer(victim),
          payload: { current_password: ATTACKER_PASSWORD, new_password: VICTIM_PASSWORD },
        });
        assert.equal(change.statusCode, 400, 'no current password matches');
        assert.equal((await post('/forgot-password', { email: VICTIM })).statusCode, 202);
        await deliver();
        const reset = tokenFrom(mailTo(smtp.messages, VICTIM).at(-1), '/reset-password');
        const page = await t.app.inject({ method: 'GET', url: `/reset-password?token=${reset}` });
        assert.equal(page.statusCode, 200);
        assert.equal(
          (await post('/reset-password', { token: reset, new_password: VICTIM_PASSWORD })).statusCode,
          204,
        );
        assert.equal((await passwordLogin(t, VICTIM_PASSWORD)).statusCode, 200);
        assert.equal((await claimEvents(t)).length, 1, 'a verified account is not claimed again');
      });
    });

    test('with GATEHOUSE_REQUIRE_VERIFIED_EMAIL the attacker still cannot log in after the victim signs in', async () => {
      await withMailApp(database.url, { GATEHOUSE_REQUIRE_VERIFIED_EMAIL: 'true' }, async (m) => {
        await squat(m, false);
        assert.equal((await passwordLogin(m.t, ATTACKER_PASSWORD)).statusCode, 400, 'unverified');
        await victimSignsInByMagicLink(m);
        assert.equal((await passwordLogin(m.t, ATTACKER_PASSWORD)).statusCode, 401);
      });
    });

    test('the hosted sign-in page claims the account; the account page offers to set a password', async () => {
      await withMailApp(database.url, {}, async (m) => {
        const { t } = m;
        const footholds = await squat(m, true);
        assert.ok(footholds);
        const token = await mailedMagicLink(m);
        const signedIn = await t.app.inject({
          method: 'POST',
          url: '/magic-link/sign-in',
          headers: browserFormHeaders(),
          payload: form({ token }),
        });
        assert.equal(signedIn.statusCode, 303);
        await assertFootholdsGone(m, footholds);
        const account = await t.app.inject({
          method: 'GET',
          url: '/account',
          headers: { cookie: cookieOf(signedIn), accept: 'text/html' },
        });
        assert.equal(account.statusCode, 200);
        assert.match(account.body, /no password yet: <a href="\/forgot-password">/);
      });
    });

    test('a password reset of an unverified account claims it: every key goes, keep_api_keys or not', async () => {
      await withMailApp(database.url, {}, async (m) => {
        const { t, smtp, deliver, post } = m;
        const footholds = await squat(m, true);
        assert.ok(footholds);
        await post('/forgot-password', { email: VICTIM });
        await deliver();
        const reset = tokenFrom(mailTo(smtp.messages, VICTIM).at(-1), '/reset-password');
        const page = await t.app.inject({ method: 'GET', url: `/reset-password?token=${reset}` });
        assert.match(page.body, /never verified: its 1 API key will be revoked/);
        assert.doesNotMatch(page.body, /name="keep_api_keys"/);
        const done = await post('/reset-password', {
          token: reset,
          new_password: VICTIM_PASSWORD,
          keep_api_keys: true,
        });
        assert.equal(done.statusCode, 204);
        await assertFootholdsGone(m, footholds);
        assert.equal((await passwordLogin(t, ATTACKER_PASSWORD)).statusCode, 401);
        assert.equal((await passwordLogin(t, VICTIM_PASSWORD)).statusCode, 200);
        const [claim] = await claimEvents(t);
        assert.equal(claim?.method, 'password_reset');
        assert.equal(claim?.password_removed, false);
      });
    });

    test('the verification mail names the username and tells a reader who did not register what to do', async () => {
      await withMailApp(database.url, {}, async (m) => {
        await squat(m, false);
        await m.deliver();
        const [mail] = mailTo(m.smtp.messages, VICTIM);
        assert.ok(mail);
        for (const body of [mail.text ?? '', String(mail.html)]) {
          assert.match(body, /squatter/);
          assert.match(body, /did not create this account/);
          assert.match(body, /http:\/\/app\.test\/forgot-password/);
        }
      });
    });
  });
}
