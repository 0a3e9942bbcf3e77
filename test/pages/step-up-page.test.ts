/**
 * The account page and step-up: when the session's sign-in is older than GATEHOUSE_REAUTH_MAX_AGE,
 * the page asks for the password inline, and a change posted anyway shows the page with that ask.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAuditEvents } from '../../src/store/audit.ts';
import { createTestApp, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { browserFormHeaders, form, signInByForm, visibleInputs } from './form-client.ts';

const MINUTE = 60_000;

describe('account page step-up', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await registerUser(t.app, 'alice');
  });
  after(async () => t?.close());

  test('a stale session sees an inline password field; a change posted anyway answers 401 with it; confirming the password lets the change through', async () => {
    const { cookie, csrfToken, accountPage } = await signInByForm(t.app, 'alice', PASSWORD);
    assert.doesNotMatch(accountPage, /action="\/reauthenticate"/, 'just signed in: nothing to confirm');

    t.clock.advance(11 * MINUTE);
    const page = (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie } })).body;
    assert.match(page, /<form method="post" action="\/reauthenticate"/);
    const field = visibleInputs(page).find((input) => input.id === 'reauth-password');
    assert.equal(field?.type, 'password');
    assert.equal(field?.autocomplete, 'current-password');
    assert.ok(page.includes('<label for="reauth-password">'));

    const post = (url: string, fields: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url,
        headers: browserFormHeaders({ cookie }),
        payload: form({ csrf_token: csrfToken, ...fields }),
      });

    const refused = await post('/account/email', { email: 'alice.new@example.com' });
    assert.equal(refused.statusCode, 401);
    assert.match(String(refused.headers['content-type']), /^text\/html/);
    assert.match(refused.body, /needs a recent sign-in/);
    assert.match(refused.body, /action="\/reauthenticate"/);

    // What the browser sends: every field of the form, the hidden username included.
    const wrong = await post('/reauthenticate', { username: 'alice', password: 'not the password' });
    assert.equal(wrong.statusCode, 400);
    assert.match(wrong.body, /id="reauth-password-error"/);
    assert.match(wrong.body, /Incorrect password/);

    const confirmed = await post('/reauthenticate', { username: 'alice', password: PASSWORD });
    assert.equal(confirmed.statusCode, 303, confirmed.body);
    assert.equal(confirmed.headers.location, '/account?notice=reauthenticated');
    const later = (await t.app.inject({ method: 'GET', url: '/account', headers: { cookie } })).body;
    assert.doesNotMatch(later, /action="\/reauthenticate"/);

    const changed = await post('/account/email', { email: 'alice.new@example.com' });
    assert.equal(changed.statusCode, 303, changed.body);
    assert.equal(changed.headers.location, '/account?notice=email-change-sent');
    const reauthenticated = await listAuditEvents(t.gatehouse.store.db, {
      event: 'user.reauthenticated',
      limit: 10,
    });
    assert.equal(reauthenticated[0]?.details?.session_kind, 'cookie');
  });
});
