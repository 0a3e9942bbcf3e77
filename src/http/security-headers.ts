/**
 * The standalone server's security headers, built once at start-up and set by one synchronous
 * `onSend` hook (helmet rebuilt its header strings for every response: ~11% of a `/healthz`).
 *
 * An HTML document (Swagger UI at /docs, ReDoc, the hosted pages) gets the full set: a CSP that
 * lets Swagger UI run, framing refused, no referrer, process isolation. Anything else (JSON,
 * scripts, stylesheets) is never rendered as a document, so it gets the few headers that matter
 * for it: `nosniff` (never sniffed into HTML), a CSP that allows nothing, and framing refused.
 * A header a route set itself (the pages' stricter CSP, ReDoc's) is kept.
 */
import type { FastifyInstance } from 'fastify';

/** Swagger UI sets inline styles; everything else comes from this origin. */
export const DOCUMENT_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "font-src 'self' https: data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
].join(';');

/** For responses that are data: nothing may load from them and nothing may frame them. */
export const DATA_CSP = "default-src 'none'; frame-ancestors 'none'";

const HSTS = 'max-age=31536000; includeSubDomains';

type HeaderList = readonly (readonly [name: string, value: string])[];

export interface SecurityHeaders {
  /** For `text/html` responses. */
  readonly document: HeaderList;
  /** For every other response. */
  readonly data: HeaderList;
}

/** `hsts`: the server is reached over https (its issuer is an https URL). */
export function buildSecurityHeaders(options: { hsts: boolean }): SecurityHeaders {
  const hsts: HeaderList = options.hsts ? [['strict-transport-security', HSTS]] : [];
  return {
    document: [
      ['content-security-policy', DOCUMENT_CSP],
      ['cross-origin-opener-policy', 'same-origin'],
      ['cross-origin-resource-policy', 'same-origin'],
      ['origin-agent-cluster', '?1'],
      ['referrer-policy', 'no-referrer'],
      ...hsts,
      ['x-content-type-options', 'nosniff'],
      ['x-dns-prefetch-control', 'off'],
      ['x-download-options', 'noopen'],
      ['x-frame-options', 'SAMEORIGIN'],
      ['x-permitted-cross-domain-policies', 'none'],
      ['x-xss-protection', '0'],
    ],
    data: [
      ['content-security-policy', DATA_CSP],
      ['cross-origin-resource-policy', 'same-origin'],
      ['referrer-policy', 'no-referrer'],
      ...hsts,
      ['x-content-type-options', 'nosniff'],
      ['x-frame-options', 'DENY'],
    ],
  };
}

export function installSecurityHeaders(app: FastifyInstance, options: { hsts: boolean }): void {
  const { document, data } = buildSecurityHeaders(options);
  app.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    const headers = typeof type === 'string' && type.startsWith('text/html') ? document : data;
    for (const [name, value] of headers) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    done(null, payload);
  });
}
