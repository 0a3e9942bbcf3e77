/**
 * Redirect URI matching (RFC 6749 §3.1.2, RFC 9700 §4.1.3): exact string comparison, except that
 * a loopback `http` URI of a native app may name any port (RFC 8252 §7.3).
 */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function portless(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  // Only a URI already in its normal form: no fragment, no user info, nothing a parser rewrites.
  if (url.href !== uri || url.hash !== '' || url.username !== '' || url.password !== '') return undefined;
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  url.port = '';
  return url.href;
}

export function isRegisteredRedirectUri(registered: readonly string[], given: string): boolean {
  if (given.includes('#')) return false;
  if (registered.includes(given)) return true;
  const loopback = portless(given);
  if (loopback === undefined) return false;
  return registered.some((uri) => portless(uri) === loopback);
}
