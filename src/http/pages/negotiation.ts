/** Which answer a request wants (a page or JSON), and where a browser may be sent back to. */
import type { FastifyRequest } from 'fastify';

function qualities(accept: string): Map<string, number> {
  const byType = new Map<string, number>();
  for (const part of accept.split(',')) {
    const [range, ...params] = part.trim().toLowerCase().split(';');
    if (!range) continue;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.trim().split('=');
      if (name === 'q') q = Number(value);
    }
    if (Number.isFinite(q)) byType.set(range.trim(), Math.max(byType.get(range.trim()) ?? 0, q));
  }
  return byType;
}

/**
 * True when the Accept header ranks `text/html` strictly above `application/json` — what a
 * browser's form post sends (`text/html,…,*\/*;q=0.8`). A client that sends no Accept, `*\/*`
 * or `application/json` keeps the JSON answer, whatever the body's content type.
 */
export function prefersHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (typeof accept !== 'string' || accept === '') return false;
  const q = qualities(accept);
  const wildcard = q.get('*/*') ?? 0;
  const htmlQ = Math.max(
    q.get('text/html') ?? q.get('text/*') ?? wildcard,
    q.get('application/xhtml+xml') ?? 0,
  );
  const jsonQ = q.get('application/json') ?? q.get('application/*') ?? wildcard;
  return htmlQ > jsonQ;
}

const BASE = 'http://gatehouse.invalid';

/**
 * Whether `path` names a path on this site as it stands: it starts with one `/`, has no
 * backslash, control character or encoded slash/backslash that a browser or proxy could turn
 * into `//host`, and still does after up to three rounds of percent-decoding.
 */
function isSitePath(path: string): boolean {
  if (!path.startsWith('/') || path.startsWith('//')) return false;
  // Browsers treat `\` as `/` in special URLs, so `/\evil.com` is `//evil.com`.
  if (/[\\\p{Cc}\s]/u.test(path)) return false;
  // An encoded `/` or `\` right after the first slash would be `//host` once decoded anywhere.
  if (/^\/(%2f|%5c)/i.test(path)) return false;
  let decoded = path;
  try {
    for (let i = 0; i < 3 && decoded.includes('%'); i++) decoded = decodeURIComponent(decoded);
  } catch {
    return false;
  }
  if (decoded.startsWith('//') || /[\\\p{Cc}]/u.test(decoded)) return false;
  // A proxy or framework that decodes before normalising must still see a path on this site.
  const resolved = new URL(decoded, BASE);
  return resolved.origin === BASE && !resolved.pathname.startsWith('//');
}

/**
 * `return_to` is followed only when it is a path on this site (see `isSitePath`) that resolves
 * to this origin, and its normalised form is one too: removing dot segments can turn a safe
 * path into an unsafe one (`/.//evil.com`, `/a/..//evil.com`, `/%2e//evil.com` are all
 * `//evil.com`), so the result is checked again. Anything else is dropped (the caller's default).
 */
export function safeReturnPath(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048 || !isSitePath(raw)) return undefined;
  const url = new URL(raw, BASE);
  if (url.origin !== BASE) return undefined;
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (!isSitePath(path) || new URL(path, BASE).href !== url.href) return undefined;
  return path;
}

export function isFormPost(request: FastifyRequest): boolean {
  const type = request.headers['content-type'];
  return typeof type === 'string' && /^application\/x-www-form-urlencoded\s*(;|$)/i.test(type);
}

/**
 * Whether a cookie-authenticated write may show its CSRF token in the form body instead of the
 * `X-CSRF-Token` header: only a form post to a route that serves a form. The guard runs before
 * the body is read, so it leaves the comparison to the preValidation hook in form-hooks.ts.
 */
export function acceptsFormCsrfToken(request: FastifyRequest): boolean {
  return (
    request.routeOptions.config?.gatehouse?.htmlForm !== undefined &&
    request.headers['x-csrf-token'] === undefined &&
    isFormPost(request)
  );
}
