import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { renderSettingsDoc, SETTINGS_DOC } from '../scripts/docs-settings.ts';
import { SETTINGS } from '../src/config.ts';
import { statusOf } from '../src/http/errors.ts';
import { codeBlocks, DOC_FILES } from './support/doc-blocks.ts';

describe('documentation stays true', () => {
  test('docs/settings.md is what `npm run docs:settings` generates from the settings table in code', () => {
    assert.equal(
      readFileSync(SETTINGS_DOC, 'utf8'),
      renderSettingsDoc(),
      'docs/settings.md is out of date: run `npm run docs:settings`',
    );
  });

  test('docs/settings.md lists every setting with its default, and nothing else', () => {
    const doc = readFileSync(SETTINGS_DOC, 'utf8');
    const documented = [...doc.matchAll(/^\|\s*`(GATEHOUSE_[A-Z0-9_<>*]+)`\s*\|\s*`([^`]*)`\s*\|/gm)].map(
      (m) => [m[1], m[2]],
    );
    assert.deepEqual(
      documented,
      SETTINGS.map((s) => [s.env, s.defaultText]),
    );
  });

  test('the README keeps no settings table of its own: it links to docs/settings.md', () => {
    const readme = readFileSync('README.md', 'utf8');
    assert.doesNotMatch(readme, /^\|\s*`GATEHOUSE_[A-Z0-9_]+`\s*\|/m);
    assert.match(readme, /\]\(docs\/settings\.md\)/);
  });

  test('every relative link in the README, docs/ and bench/README.md names a file and heading that exist', () => {
    for (const page of DOC_FILES) {
      const text = readFileSync(page, 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^(https?:|mailto:)/.test(target)) continue;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? page : join(dirname(page), path);
        assert.ok(existsSync(file), `${page} links to ${target}, which does not exist`);
        if (anchor !== undefined && file.endsWith('.md'))
          assert.ok(anchorsOf(file).has(anchor), `${page} links to ${target}: no such heading`);
      }
    }
  });

  test('docs/errors.md lists every error code with its status', () => {
    const source = readFileSync('src/errors/base.ts', 'utf8');
    const union = source.slice(
      source.indexOf('export type GatehouseErrorCode'),
      source.indexOf(';', source.indexOf('export type GatehouseErrorCode')),
    );
    const codes = [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1] ?? '');
    const doc = readFileSync('docs/errors.md', 'utf8');
    const rows = [...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    assert.deepEqual(
      rows,
      codes.map((code) => [code, statusOf(code as Parameters<typeof statusOf>[0])]),
    );
  });

  test('every example block in the README and docs/ is run by a test, or says here why it is not', () => {
    // Output, query plans and configuration files (no language, sql, yaml) are not examples to run.
    const seen = new Map<string, number>();
    const places = DOC_FILES.flatMap((file) =>
      codeBlocks(file)
        .filter((block) => !['', 'sql', 'yaml'].includes(block.lang))
        .map((block) => {
          const where = `${block.file} ${block.heading} (${block.lang})`;
          const nth = (seen.get(where) ?? 0) + 1;
          seen.set(where, nth);
          return nth === 1 ? where : `${where} #${nth}`;
        }),
    );
    const unaccounted = places.filter((where) => !RUN.has(where) && !NOT_RUN.has(where));
    assert.deepEqual(unaccounted, []);
    const present = new Set(places);
    assert.deepEqual(
      [...RUN.keys(), ...NOT_RUN.keys()].filter((where) => !present.has(where)),
      [],
      'RUN and NOT_RUN name only blocks that exist',
    );
  });
});

/** GitHub's anchors for the headings of a Markdown file (outside code blocks). */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim().startsWith('```')) fenced = !fenced;
    const heading = fenced ? undefined : /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading !== undefined)
      anchors.add(
        heading
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N}_\- ]/gu, '')
          .replaceAll(' ', '-'),
      );
  }
  return anchors;
}

/** Example blocks (file, heading, language) and the test that runs them. */
const RUN = new Map([
  ['README.md ## A 60-second tour (sh)', 'test/readme-curl.test.ts'],
  ['README.md ## Two-factor sign-in with curl (sh)', 'test/readme-curl.test.ts'],
  ['docs/second-factors.md ### With curl (sh)', 'test/readme-curl.test.ts'],
  ['README.md ## The Fastify plugin (ts)', 'test/readme-examples.test.ts; scripts/packaging-test.ts'],
  ['README.md ## The verifier (js)', 'test/readme-examples.test.ts'],
  ['README.md ## The standalone server (sh)', 'test/readme-examples.test.ts; scripts/packaging-test.ts'],
  [
    'README.md ## Single sign-on for your apps (OpenID Provider) (sh)',
    'examples/oidc-web-app/sign-in.test.ts; scripts/packaging-test.ts',
  ],
  [
    'README.md ## Single sign-on for your apps (OpenID Provider) (sh) #2',
    'examples/oidc-web-app/sign-in.test.ts',
  ],
  ['docs/api.md ## API keys (sh)', 'test/readme-curl.test.ts'],
  ['docs/authorization.md ### Admin API (sh)', 'test/readme-curl.test.ts'],
  ['docs/email-and-pages.md ## Email (sh) #2', 'test/readme-curl.test.ts'],
  ['docs/tokens-and-sessions.md ### Step-up (recent sign-in) (sh)', 'test/readme-curl.test.ts'],
  ['docs/security.md ### Failed-login throttle (sh)', 'test/readme-curl.test.ts'],
  ['docs/authorization.md ## Protecting your own routes (ts)', 'test/readme-examples.test.ts'],
  ['docs/library.md ## Embedded in your Fastify API (ts)', 'test/readme-examples.test.ts'],
  ['docs/library.md ## Embedded in your Fastify API (ts) #2', 'test/readme-examples.test.ts'],
  ['docs/library.md ## Verifying tokens in another service (ts)', 'test/readme-examples.test.ts'],
  ['docs/openid-provider.md ## Introspection and revocation (sh)', 'test/readme-curl.test.ts'],
]);

/** Example blocks no test runs as written, and why. */
const NOT_RUN = new Map([
  [
    'docs/openid-provider.md ## Signing in: the authorization code flow (mermaid)',
    'a diagram; test/oidc/code-flow-browser.test.ts runs the flow',
  ],
  ['docs/second-factors.md ## Signing in (json)', 'a response body; test/factors/totp-sign-in.test.ts'],
  [
    'docs/second-factors.md ## Step-up in your own routes (ts)',
    'fragments; test/factors/mfa-step-up.test.ts declares both routes',
  ],
  ['README.md ## Quick start (sh)', 'the two commands themselves: CI runs `npm ci && npm test`'],
  ['README.md ## Development (sh)', 'npm scripts run by CI'],
  ['bench/README.md ## Scale run (sh)', 'a benchmark of minutes; test/bench/scale.test.ts runs it small'],
  ['docs/development.md # Development (sh)', 'npm scripts run by CI'],
  ['docs/library.md ## Examples (sh)', 'starts the example; examples/items-api/items.test.ts'],
  ['docs/library.md ## Examples (sh) #2', 'starts two servers; examples/resource-server/two-process.test.ts'],
  ['docs/operations.md ### Metrics (sh)', 'starts a server on port 8000; test/http/metrics.test.ts'],
  ['docs/operations.md ## Command line (sh)', 'acts on ./data; test/cli.test.ts runs every command'],
  [
    'docs/openid-provider.md ### Managing clients from the command line (sh)',
    'acts on ./data; test/oidc/clients-cli.test.ts runs every command',
  ],
  [
    'docs/security.md ## Abuse protection (sh)',
    'starts a server on port 8000; test/http/rate-limits.test.ts',
  ],
  [
    'docs/several-instances.md ## Running several instances (sh)',
    'needs hosts db.internal and cache.internal; test/cluster/ runs three processes on PostgreSQL and Redis',
  ],
  [
    'docs/several-instances.md ## Running several instances (sh) #2',
    'settings only; test/faults/database-outage.test.ts',
  ],
  [
    'docs/email-and-pages.md ## Email (sh)',
    'needs a real SMTP server; test/mail/ sends through a real SMTP server in-process',
  ],
  [
    'docs/tokens-and-sessions.md ## Token lifecycle (js)',
    'browser code (cookies, same origin); test/http/cookie-session.test.ts and test/http/csrf-scope.test.ts',
  ],
]);
