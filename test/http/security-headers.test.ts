/**
 * The standalone server's security headers: data responses (JSON, errors, static files) carry the
 * few that matter for them, HTML documents (/docs, /redoc, the pages) the full set, and a header
 * a route set itself (the pages' strict CSP, ReDoc's CDN script) is kept.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATA_CSP, DOCUMENT_CSP } from '../../src/http/security-headers.ts';
import { createTestApp, type TestApp } from '../support/gatehouse.ts';

describe('security headers', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  test('JSON answers, errors included, refuse sniffing, framing and loading anything', async () => {
    for (const url of ['/healthz', '/openapi.json', '/no-such-route', '/users/me']) {
      const response = await t.app.inject({ url });
      assert.match(String(response.headers['content-type']), /^application\/json/, url);
      assert.equal(response.headers['content-security-policy'], DATA_CSP, url);
      assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(response.headers['x-frame-options'], 'DENY', url);
      assert.equal(response.headers['referrer-policy'], 'no-referrer', url);
      assert.equal(response.headers['cross-origin-resource-policy'], 'same-origin', url);
      // Only meaningful for documents, and over http no HSTS.
      assert.equal(response.headers['x-xss-protection'], undefined, url);
      assert.equal(response.headers['strict-transport-security'], undefined, url);
    }
  });

  test('Swagger UI gets the full document set with the CSP it needs', async () => {
    const docs = await t.app.inject({ url: '/docs' });
    assert.match(String(docs.headers['content-type']), /^text\/html/);
    assert.equal(docs.headers['content-security-policy'], DOCUMENT_CSP);
    assert.equal(docs.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(docs.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(docs.headers['x-content-type-options'], 'nosniff');
    assert.equal(docs.headers['x-xss-protection'], '0');
  });

  test("a route's own CSP is kept, one header, not replaced", async () => {
    const redoc = await t.app.inject({ url: '/redoc' });
    assert.match(String(redoc.headers['content-security-policy']), /cdn\.redoc\.ly/);
    assert.equal(redoc.headers['cross-origin-opener-policy'], 'same-origin');
    const login = await t.app.inject({ url: '/login' });
    assert.match(String(login.headers['content-security-policy']), /^default-src 'none'/);
    assert.equal(login.headers['x-frame-options'], 'DENY');
    assert.equal(login.headers['referrer-policy'], 'same-origin');
  });
});

test('an https issuer adds HSTS to every answer', async () => {
  const t = await createTestApp({ env: { GATEHOUSE_ISSUER: 'https://auth.example.com' } });
  try {
    for (const url of ['/healthz', '/docs']) {
      const response = await t.app.inject({ url });
      assert.equal(response.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', url);
    }
  } finally {
    await t.close();
  }
});
