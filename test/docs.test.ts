import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { SETTINGS } from '../src/config.ts';
import { statusOf } from '../src/http/errors.ts';

describe('documentation stays true', () => {
  test('the README settings table lists every setting with its default, and nothing else', () => {
    const readme = readFileSync('README.md', 'utf8');
    const documented = [...readme.matchAll(/^\|\s*`(GATEHOUSE_[A-Z0-9_]+)`\s*\|\s*`([^`]*)`\s*\|/gm)].map(
      (m) => [m[1], m[2]],
    );
    assert.deepEqual(
      documented,
      SETTINGS.map((s) => [s.env, s.defaultText]),
    );
  });

  test('docs/errors.md lists every error code with its status', () => {
    const source = readFileSync('src/errors.ts', 'utf8');
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
});
