/**
 * Strict JSON and form parsers: invalid UTF-8, NUL bytes, `__proto__`/`constructor` keys and
 * (for forms, RFC 6749 §3.1) repeated parameters are client errors before any handler runs.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { HttpClientError } from './errors.ts';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function checkValue(value: unknown, depth: number): void {
  if (depth > 32) throw new HttpClientError(400, 'Request body is nested too deeply');
  if (typeof value === 'string') {
    if (value.includes('\u0000')) throw new HttpClientError(400, 'Request body contains a NUL character');
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, item] of Object.entries(value)) {
    if (FORBIDDEN_KEYS.has(key))
      throw new HttpClientError(400, `Request body must not contain the key "${key}"`);
    if (key.includes('\u0000')) throw new HttpClientError(400, 'Request body contains a NUL character');
    checkValue(item, depth + 1);
  }
}

export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    if (!isUtf8(body)) return done(new HttpClientError(400, 'Request body is not valid UTF-8'), undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return done(new HttpClientError(400, 'Request body is not valid JSON'), undefined);
    }
    try {
      checkValue(parsed, 0);
    } catch (error) {
      return done(error as Error, undefined);
    }
    done(null, parsed);
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (_request, body: Buffer, done) => {
      if (!isUtf8(body)) return done(new HttpClientError(400, 'Request body is not valid UTF-8'), undefined);
      const fields: Record<string, string> = Object.create(null);
      try {
        for (const [key, value] of new URLSearchParams(body.toString('utf8'))) {
          // Percent-encoded bytes that are not UTF-8 decode to U+FFFD.
          if (key.includes('\uFFFD') || value.includes('\uFFFD')) {
            throw new HttpClientError(400, 'Request body is not valid UTF-8');
          }
          if (Object.hasOwn(fields, key))
            throw new HttpClientError(400, `Parameter "${key.slice(0, 40)}" is repeated`);
          fields[key] = value;
        }
        checkValue(fields, 0);
      } catch (error) {
        return done(error as Error, undefined);
      }
      done(null, { ...fields });
    },
  );
}
