/**
 * Property tests of `return_to`: paths built from slashes, backslashes, dots, percent-encodings,
 * control characters and schemes never send the browser off this origin, whether through
 * `safeReturnPath` itself or through the real sign-in routes (`POST /login`,
 * `POST /magic-link/sign-in`). The Location is resolved as a browser does (`new URL` against the
 * origin) and its origin compared.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { safeReturnPath } from '../../src/http/pages/negotiation.ts';
import { storeEmailToken } from '../support/email-token.ts';
import { createTestApp, DATABASES, PASSWORD, registerUser, type TestApp } from '../support/gatehouse.ts';
import { browserFormHeaders, form, OWN_ORIGIN } from './form-client.ts';

const PIECES = [
  '/',
  '//',
  '\\',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2e%2e',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '%25',
  '%252f',
  '%255c',
  '%00',
  '%0a',
  '%0d',
  '%09',
  '%20',
  '\t',
  '\n',
  '\r',
  '\0',
  '\x7f',
  '\u2028',
  ' ',
  'http:',
  'https:',
  'javascript:',
  'data:',
  'evil.com',
  '@',
  ':',
  '?',
  '#',
  ';',
  'a',
  '／',
  '＼',
  '。',
  '%E3%80%82',
  '%EF%BC%8F',
] as const;

/** Paths from the grammar, most of them starting with `/` as a same-site path would. */
const returnPaths = fc.oneof(
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 10 }).map((parts) => `/${parts.join('')}`),
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 10 }).map((parts) => parts.join('')),
);

/** The review's reproductions, always tried first. */
const KNOWN: [string][] = [
  ['/.//evil.com'],
  ['/..//evil.com'],
  ['/%2e//evil.com'],
  ['/a/..//evil.com'],
  ['/%2e%2e//evil.com'],
  ['/a/%2e%2e/%2fevil.com'],
  ['/./\\evil.com'],
];

const HOME = new URL(OWN_ORIGIN).origin;

function staysHome(location: string | undefined): void {
  assert.equal(typeof location, 'string', 'a Location header');
  const target = new URL(location as string, HOME);
  assert.equal(target.origin, HOME, `Location ${JSON.stringify(location)} leaves the origin`);
  assert.ok(
    !(location as string).startsWith('//'),
    `Location ${JSON.stringify(location)} is scheme-relative`,
  );
  assert.doesNotMatch(location as string, /[\\\p{Cc}]/u);
}

/** Sign-in succeeded and stays on this origin, or the post was refused (a NUL byte) with no redirect. */
function answersAtHome(response: { statusCode: number; headers: Record<string, unknown> }): void {
  if (response.statusCode === 400) {
    assert.equal(response.headers.location, undefined);
    return;
  }
  assert.equal(response.statusCode, 303);
  staysHome(response.headers.location as string | undefined);
}

describe('return_to: generated paths never leave the origin', () => {
  test('safeReturnPath keeps only paths that resolve on this origin, and is stable on its result', () => {
    fc.assert(
      fc.property(returnPaths, (raw) => {
        const path = safeReturnPath(raw);
        if (path === undefined) return;
        staysHome(path);
        assert.equal(safeReturnPath(path), path);
      }),
      { numRuns: 20_000, examples: KNOWN },
    );
  });

  for (const database of DATABASES) {
    describe(database.name, () => {
      let t: TestApp;
      let userId: string;
      before(async () => {
        t = await createTestApp({ databaseUrl: database.url });
        userId = (await registerUser(t.app, 'alice')).id;
      });
      after(async () => t?.close());

      test('POST /login sends the browser only to this origin', async () => {
        await fc.assert(
          fc.asyncProperty(returnPaths, async (returnTo) => {
            const response = await t.app.inject({
              method: 'POST',
              url: '/login',
              headers: browserFormHeaders(),
              payload: form({ username: 'alice', password: PASSWORD, return_to: returnTo }),
            });
            answersAtHome(response);
          }),
          { numRuns: 150, examples: KNOWN },
        );
      });

      test('POST /magic-link/sign-in sends the browser only to this origin', async () => {
        await fc.assert(
          fc.asyncProperty(returnPaths, async (returnTo) => {
            const token = await storeEmailToken(t, 'magic', { id: userId, email: 'alice@example.com' });
            const response = await t.app.inject({
              method: 'POST',
              url: '/magic-link/sign-in',
              headers: browserFormHeaders(),
              payload: form({ token, return_to: returnTo }),
            });
            answersAtHome(response);
          }),
          { numRuns: 60, examples: KNOWN },
        );
      });
    });
  }
});
