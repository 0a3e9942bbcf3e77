/**
 * `return_to` after sign-in is followed only to a path on this site: every open-redirect trick
 * lands on /account instead, and is not even carried into the form.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { safeReturnPath } from '../../src/http/pages/negotiation.ts';
import { createTestApp, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { browserFormHeaders, form } from './form-client.ts';

const ATTACKS = [
  '//evil.com',
  '///evil.com',
  '/\\evil.com',
  '\\\\evil.com',
  '/\\/evil.com',
  '/.//evil.com',
  '/..//evil.com',
  '/%2e//evil.com',
  '/a/..//evil.com',
  'https://evil.com',
  'http:evil.com',
  'evil.com',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  '%2F%2Fevil.com',
  '/%2F%2Fevil.com',
  '/%2fevil.com',
  '/%5Cevil.com',
  '/%252F%252Fevil.com',
  '/%5C%5Cevil.com',
  '/\t/evil.com',
  '/\n/evil.com',
  '/\r\nLocation: https://evil.com',
  '/account\r\nSet-Cookie: x=1',
  '/%0d%0aSet-Cookie:x=1',
  '/%E0%A4%A',
  ' /account',
  '',
  `/${'a'.repeat(2100)}`,
];

const SAFE: [string, string][] = [
  ['/account', '/account'],
  ['/account?tab=sessions', '/account?tab=sessions'],
  ['/docs#section', '/docs#section'],
  ['/a/../account', '/account'],
  ['/caf%C3%A9', '/caf%C3%A9'],
];

describe('return_to', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await registerUser(t.app, 'alice');
  });
  after(async () => t?.close());

  const loginWith = (returnTo: string) =>
    t.app.inject({
      method: 'POST',
      url: '/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: PASSWORD, return_to: returnTo }),
    });

  for (const attack of ATTACKS) {
    test(`${JSON.stringify(attack.slice(0, 60))} is not followed: sign-in lands on /account`, async () => {
      assert.equal(safeReturnPath(attack), undefined);
      const response = await loginWith(attack);
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers.location, '/account');
      const page = await t.app.inject({
        method: 'GET',
        url: `/login?return_to=${encodeURIComponent(attack)}`,
      });
      assert.equal(page.statusCode, 200);
      assert.doesNotMatch(page.body, /name="return_to"/);
    });
  }

  for (const [given, expected] of SAFE) {
    test(`${given} on this site is followed`, async () => {
      const response = await loginWith(given);
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers.location, expected);
    });
  }

  test('a return_to carried through a failed sign-in is kept in the form, escaped', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: browserFormHeaders(),
      payload: form({ username: 'alice', password: 'wrong wrong', return_to: '/account?q="><b>' }),
    });
    assert.equal(response.statusCode, 401);
    assert.match(response.body, /name="return_to" value="\/account\?q=%22%3E%3Cb%3E"/);
  });
});
