import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  TEST_REDIS_URL,
  type TestApp,
  uniqueRedisPrefix,
} from '../support/gatehouse.ts';
import { tokenGrant, withMailApp } from '../support/mail-app.ts';
import { mailTo, tokenFrom } from '../support/smtp.ts';

/** Audit events as `name` or `name:method`, oldest first. */
async function auditTrail(t: TestApp): Promise<string[]> {
  const rows = await t.gatehouse.store.db
    .selectFrom('audit_events')
    .select(['event', 'details'])
    .orderBy('at')
    .execute();
  return rows.map((row) => {
    const method = (JSON.parse(row.details) as { method?: string }).method;
    return method ? `${row.event}:${method}` : row.event;
  });
}

const me = (t: TestApp, accessToken: string) =>
  t.app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${accessToken}` } });

for (const database of DATABASES) {
  describe(`email flows (${database.name})`, () => {
    test('registration mails a verification link; its token verifies the address once', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        await registerUser(t.app, 'alice');
        await deliver();
        const [mail] = mailTo(smtp.messages, 'alice@example.com');
        assert.ok(mail, 'a verification mail');
        assert.match(mail.subject ?? '', /Confirm your email address for Gatehouse/);
        assert.match(mail.text ?? '', /http:\/\/app\.test\/verify-email\?token=[A-Za-z0-9_-]{43}/);
        assert.match(String(mail.html), /href="http:\/\/app\.test\/verify-email\?token=/);
        const token = tokenFrom(mail, '/verify-email');
        assert.equal(await t.gatehouse.emailFlows.peekToken(token, 'verify'), true);
        assert.equal(await t.gatehouse.emailFlows.peekToken(token, 'verify'), true, 'peeking spends nothing');

        const access = await login(t.app, 'alice');
        assert.equal((await me(t, access)).json().email_verified, false);
        assert.equal((await post('/verify', { token })).statusCode, 204);
        assert.equal((await me(t, access)).json().email_verified, true);

        const again = await post('/verify', { token });
        assert.equal(again.statusCode, 400);
        assert.deepEqual(again.json(), { detail: 'Invalid or expired token' });
        assert.equal(await t.gatehouse.emailFlows.peekToken(token, 'verify'), false);
        const stored = await t.gatehouse.store.db.selectFrom('email_tokens').select('token_hash').execute();
        assert.ok(
          stored.every((row) => row.token_hash !== token),
          'only a hash is stored',
        );
        const audit = await t.gatehouse.store.db
          .selectFrom('audit_events')
          .select('details')
          .where('event', '=', 'email.verified')
          .execute();
        assert.equal(audit.length, 1);
        assert.ok(!JSON.stringify(audit).includes(token));
      });
    });

    test('an expired, tampered or other-purpose token is refused at /verify', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        await registerUser(t.app, 'bob');
        assert.equal((await post('/forgot-password', { email: 'bob@example.com' })).statusCode, 202);
        await deliver();
        const verify = tokenFrom(mailTo(smtp.messages, 'bob@example.com')[0], '/verify-email');
        const reset = tokenFrom(mailTo(smtp.messages, 'bob@example.com')[1], '/reset-password');

        assert.equal((await post('/verify', { token: reset })).statusCode, 400, 'a reset token at /verify');
        const tampered = `${verify.slice(0, -1)}${verify.endsWith('A') ? 'B' : 'A'}`;
        assert.equal((await post('/verify', { token: tampered })).statusCode, 400);
        assert.equal((await post('/verify', { token: 'short' })).statusCode, 400);

        t.clock.advance(24 * 3600 * 1000 + 1000);
        const expired = await post('/verify', { token: verify });
        assert.equal(expired.statusCode, 400);
        assert.deepEqual(expired.json(), { detail: 'Invalid or expired token' });
      });
    });

    test('GATEHOUSE_REQUIRE_VERIFIED_EMAIL refuses login after the password check, until verified', async () => {
      await withMailApp(
        database.url,
        { GATEHOUSE_REQUIRE_VERIFIED_EMAIL: 'true' },
        async ({ t, smtp, deliver, post }) => {
          await registerUser(t.app, 'carol');
          const wrong = await tokenGrant(t, { username: 'carol', password: 'not the password' });
          assert.equal(wrong.statusCode, 401, 'a wrong password still reads as wrong');
          const unverified = await tokenGrant(t, { username: 'carol', password: PASSWORD });
          assert.equal(unverified.statusCode, 400);
          assert.equal(unverified.json().detail, 'Email not verified');
          const cookieLogin = await post('/login', { username: 'carol', password: PASSWORD });
          assert.deepEqual(cookieLogin.json(), { detail: 'Email not verified' });

          await deliver();
          const token = tokenFrom(mailTo(smtp.messages, 'carol@example.com')[0], '/verify-email');
          assert.equal((await post('/verify', { token })).statusCode, 204);
          assert.equal((await tokenGrant(t, { username: 'carol', password: PASSWORD })).statusCode, 200);
        },
      );
    });

    test('POST /verify/request sends a new link to an unverified address and none to a verified one', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        await registerUser(t.app, 'dave');
        const access = await login(t.app, 'dave');
        const auth = { authorization: `Bearer ${access}` };
        assert.equal((await post('/verify/request', undefined)).statusCode, 401);
        assert.equal((await post('/verify/request', undefined, auth)).statusCode, 202);
        await deliver();
        const mails = mailTo(smtp.messages, 'dave@example.com');
        assert.equal(mails.length, 2);
        assert.equal(
          (await post('/verify', { token: tokenFrom(mails[1], '/verify-email') })).statusCode,
          204,
        );
        assert.equal((await post('/verify/request', undefined, auth)).statusCode, 202);
        await deliver();
        assert.equal(mailTo(smtp.messages, 'dave@example.com').length, 2);
      });
    });

    test('forgot-password answers the same for known and unknown addresses; only the known one gets mail', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        await registerUser(t.app, 'erin');
        await deliver();
        smtp.messages.length = 0;
        const known = await post('/forgot-password', { email: 'Erin@Example.com' });
        const unknown = await post('/forgot-password', { email: 'nobody@example.com' });
        assert.equal(known.statusCode, 202);
        assert.equal(unknown.statusCode, known.statusCode);
        assert.equal(unknown.body, known.body);
        await deliver();
        assert.equal(smtp.messages.length, 1);
        assert.equal(mailTo(smtp.messages, 'erin@example.com').length, 1);
        assert.match(smtp.messages[0]?.text ?? '', /expires in 30 minutes/);
        const malformed = await post('/forgot-password', { email: 'not-an-address' });
        assert.equal(malformed.statusCode, 422);
      });
    });

    test('a reset applies the policy without spending the link, then ends every session and every other link', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        await registerUser(t.app, 'frank');
        const session = (await tokenGrant(t, { username: 'frank', password: PASSWORD })).json();
        await post('/forgot-password', { email: 'frank@example.com' });
        await deliver();
        await post('/forgot-password', { email: 'frank@example.com' });
        await deliver();
        const links = mailTo(smtp.messages, 'frank@example.com').filter((m) =>
          /reset/i.test(m.subject ?? ''),
        );
        assert.equal(links.length, 2);
        const first = tokenFrom(links[0], '/reset-password');
        const second = tokenFrom(links[1], '/reset-password');

        const weak = await post('/reset-password', { token: second, new_password: 'password' });
        assert.equal(weak.statusCode, 422);
        assert.equal(
          await t.gatehouse.emailFlows.peekToken(second, 'reset'),
          true,
          'a refused password spends nothing',
        );

        const newPassword = 'a brand new passphrase 42';
        assert.equal(
          (await post('/reset-password', { token: second, new_password: newPassword })).statusCode,
          204,
        );
        assert.equal((await me(t, session.access_token)).statusCode, 401, 'the old access token is refused');
        const refreshed = await tokenGrant(t, {
          grant_type: 'refresh_token',
          refresh_token: session.refresh_token,
        });
        assert.equal(refreshed.statusCode, 400, 'the old refresh token is refused');
        const other = await post('/reset-password', {
          token: first,
          new_password: 'yet another passphrase 7',
        });
        assert.equal(other.statusCode, 400, 'the other outstanding link is spent');
        assert.equal((await tokenGrant(t, { username: 'frank', password: PASSWORD })).statusCode, 401);
        assert.equal((await tokenGrant(t, { username: 'frank', password: newPassword })).statusCode, 200);
        const trail = await auditTrail(t);
        assert.equal(trail.filter((e) => e === 'password.reset_requested').length, 2);
        assert.equal(trail.filter((e) => e === 'password.reset').length, 1);
      });
    });

    test('a magic link signs in by cookie or by token grant, once, and the refresh token works', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        const user = await registerUser(t.app, 'grace');
        const ctx = { ip: '127.0.0.1', userAgent: 'test' };
        assert.equal((await post('/magic-link', { email: 'grace@example.com' })).statusCode, 202);
        await deliver();
        const first = tokenFrom(mailTo(smtp.messages, 'grace@example.com').at(-1), '/magic-link');
        assert.match(mailTo(smtp.messages, 'grace@example.com').at(-1)?.text ?? '', /expires in 15 minutes/);
        const cookie = await t.gatehouse.emailFlows.signInWithMagicLinkCookie(first, ctx);
        assert.equal(cookie.user.id, user.id);
        assert.ok(await t.gatehouse.sessions.authenticateCookie(cookie.cookieValue));
        await assert.rejects(t.gatehouse.emailFlows.signInWithMagicLinkCookie(first, ctx), {
          code: 'INVALID_EMAIL_TOKEN',
        });

        await post('/magic-link', { email: 'grace@example.com' });
        await deliver();
        const second = tokenFrom(mailTo(smtp.messages, 'grace@example.com').at(-1), '/magic-link');
        const grant = await tokenGrant(t, {
          grant_type: 'urn:gatehouse:grant-type:magic-link',
          token: second,
        });
        assert.equal(grant.statusCode, 200);
        const pair = grant.json();
        assert.equal(
          (await me(t, pair.access_token)).json().email_verified,
          true,
          'the link proved the address',
        );
        const reused = await tokenGrant(t, {
          grant_type: 'urn:gatehouse:grant-type:magic-link',
          token: second,
        });
        assert.equal(reused.statusCode, 400);
        assert.equal(reused.json().error, 'invalid_grant');
        const refreshed = await tokenGrant(t, {
          grant_type: 'refresh_token',
          refresh_token: pair.refresh_token,
        });
        const trail = await auditTrail(t);
        assert.ok(trail.includes('magic_link.requested'));
        assert.equal(trail.filter((e) => e.startsWith('login.succeeded:magic_link')).length, 2);
        assert.equal(refreshed.statusCode, 200);

        await post('/magic-link', { email: 'grace@example.com' });
        await deliver();
        const late = tokenFrom(mailTo(smtp.messages, 'grace@example.com').at(-1), '/magic-link');
        t.clock.advance(15 * 60 * 1000 + 1);
        const expired = await tokenGrant(t, {
          grant_type: 'urn:gatehouse:grant-type:magic-link',
          token: late,
        });
        assert.equal(expired.statusCode, 400);
      });
    });

    test('a magic link for an unknown address sends nothing, unless sign-up by magic link is on', async () => {
      await withMailApp(database.url, {}, async ({ smtp, deliver, post }) => {
        const answer = await post('/magic-link', { email: 'new@example.com' });
        assert.equal(answer.statusCode, 202);
        await deliver();
        assert.equal(smtp.messages.length, 0);
      });
      await withMailApp(
        database.url,
        { GATEHOUSE_MAGIC_LINK_SIGNUP: 'true' },
        async ({ t, smtp, deliver, post }) => {
          await post('/magic-link', { email: 'New.Person@example.com' });
          await deliver();
          const token = tokenFrom(mailTo(smtp.messages, 'new.person@example.com')[0], '/magic-link');
          assert.equal(
            await t.gatehouse.accounts.findByLogin('new.person@example.com'),
            undefined,
            'not before use',
          );
          const grant = await tokenGrant(t, { grant_type: 'urn:gatehouse:grant-type:magic-link', token });
          assert.equal(grant.statusCode, 200);
          const profile = (await me(t, grant.json().access_token)).json();
          assert.equal(profile.email, 'New.Person@example.com');
          assert.equal(profile.email_verified, true);
          assert.deepEqual(profile.roles, ['user']);
        },
      );
    });

    test('an email change is confirmed by the new address, the old one is told, and a taken address is refused', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        await registerUser(t.app, 'heidi');
        await registerUser(t.app, 'ivan');
        const access = await login(t.app, 'heidi', PASSWORD, 'profile:read profile:write');
        const patch = (email: string) =>
          t.app.inject({
            method: 'PATCH',
            url: '/users/me',
            headers: { authorization: `Bearer ${access}` },
            payload: { email },
          });
        const answer = await patch('heidi@new.example.com');
        assert.equal(answer.statusCode, 200);
        assert.equal(answer.json().email, 'heidi@example.com', 'unchanged until confirmed');
        assert.equal((await patch('ivan@example.com')).statusCode, 400, 'an address another account has');
        await deliver();
        const notice = mailTo(smtp.messages, 'heidi@example.com').at(-1);
        assert.match(notice?.text ?? '', /heidi@new\.example\.com/);
        assert.doesNotMatch(notice?.text ?? '', /token=/, 'the notice carries no link');
        const token = tokenFrom(mailTo(smtp.messages, 'heidi@new.example.com')[0], '/confirm-email');
        assert.equal((await post('/users/me/email/confirm', { token })).statusCode, 204);
        const changed = (await me(t, access)).json();
        assert.equal(changed.email, 'heidi@new.example.com');
        assert.equal(changed.email_verified, true);
        assert.equal((await post('/users/me/email/confirm', { token })).statusCode, 400, 'single use');
        const trail = await auditTrail(t);
        assert.ok(trail.includes('email.change_requested') && trail.includes('email.changed'));

        // Asked while free, taken by someone else before the confirmation.
        assert.equal((await patch('shared@example.com')).statusCode, 200);
        await deliver();
        const late = tokenFrom(mailTo(smtp.messages, 'shared@example.com')[0], '/confirm-email');
        await registerUser(t.app, 'judy', { email: 'Shared@example.com' });
        const taken = await post('/users/me/email/confirm', { token: late });
        assert.equal(taken.statusCode, 400);
        assert.deepEqual(taken.json(), { detail: 'Email already registered' });
        assert.equal((await me(t, access)).json().email, 'heidi@new.example.com');
      });
    });

    test('mail routes are limited per client IP and per address', async () => {
      await withMailApp(
        database.url,
        { GATEHOUSE_RATE_LIMIT_MAIL: '3/1h', GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS: '2/1h' },
        async ({ t }) => {
          const forgot = (email: string, remoteAddress: string) =>
            t.app.inject({ method: 'POST', url: '/forgot-password', payload: { email }, remoteAddress });
          assert.equal((await forgot('a@example.com', '198.51.100.1')).statusCode, 202);
          assert.equal((await forgot('b@example.com', '198.51.100.1')).statusCode, 202);
          assert.equal((await forgot('c@example.com', '198.51.100.1')).statusCode, 202);
          const perIp = await forgot('d@example.com', '198.51.100.1');
          assert.equal(perIp.statusCode, 429);
          assert.ok(Number(perIp.headers['retry-after']) >= 1);

          assert.equal((await forgot('target@example.com', '198.51.100.2')).statusCode, 202);
          assert.equal((await forgot('TARGET@example.com', '198.51.100.3')).statusCode, 202);
          const perAddress = await forgot('target@example.com', '198.51.100.4');
          assert.equal(perAddress.statusCode, 429, 'a third mail to one address from a third IP');
          const magic = await t.app.inject({
            method: 'POST',
            url: '/magic-link',
            payload: { email: 'target@example.com' },
            remoteAddress: '198.51.100.5',
          });
          assert.equal(magic.statusCode, 429, 'the address budget spans every mail flow');
        },
      );
    });

    test('no token reaches the logs when mail goes by SMTP', async () => {
      await withMailApp(database.url, {}, async ({ t, smtp, deliver, post }) => {
        await registerUser(t.app, 'mallory');
        await post('/forgot-password', { email: 'mallory@example.com' });
        await post('/magic-link', { email: 'mallory@example.com' });
        await deliver();
        const tokens = smtp.messages.flatMap((m) =>
          [...(m.text ?? '').matchAll(/token=([A-Za-z0-9_-]+)/g)].map((x) => x[1]),
        );
        assert.equal(tokens.length, 3);
        for (const token of tokens) await post('/verify', { token });
        // The links themselves, as a browser or a mail scanner fetches them.
        for (const token of tokens) {
          await t.app.inject({ method: 'GET', url: `/verify-email?token=${token}&from=mail` });
        }
        assert.match(t.logs(), /"url":"\/verify-email\?token=\[redacted\]&from=mail"/);
        const logs = t.logs();
        for (const token of tokens) assert.ok(token && !logs.includes(token), 'token in logs');
      });
    });
  });
}

describe('the per-address mail limit with Redis', { skip: TEST_REDIS_URL === undefined }, () => {
  test('is shared by every process, so spreading requests over processes gains nothing', async () => {
    const env = {
      GATEHOUSE_REDIS_URL: TEST_REDIS_URL ?? '',
      GATEHOUSE_REDIS_PREFIX: uniqueRedisPrefix(),
      GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS: '2/1h',
    };
    const a = await createTestApp({ env });
    const b = await createTestApp({ env });
    try {
      const forgot = (t: TestApp, remoteAddress: string) =>
        t.app.inject({
          method: 'POST',
          url: '/forgot-password',
          payload: { email: 'target@example.com' },
          remoteAddress,
        });
      assert.equal((await forgot(a, '198.51.100.1')).statusCode, 202);
      assert.equal((await forgot(b, '198.51.100.2')).statusCode, 202);
      assert.equal((await forgot(a, '198.51.100.3')).statusCode, 429);
      assert.equal((await forgot(b, '198.51.100.4')).statusCode, 429);
      const keys = await a.gatehouse.redis?.commands.keys(`${env.GATEHOUSE_REDIS_PREFIX}*`);
      assert.ok(keys && keys.length > 0);
      assert.ok(
        keys.every((key) => !key.includes('target')),
        'the address is hashed, never stored',
      );
    } finally {
      await b.close();
      await a.close();
    }
  });
});
