/**
 * OAuth2 scopes (RFC 6749 §3.3). Scopes are permissions: a user may be granted any permission
 * their roles hold; what a client asks beyond that is left out, not refused.
 */
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function parseScope(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return [...new Set(raw.split(' ').filter((token) => token !== '' && SCOPE_TOKEN.test(token)))];
}

/** The scopes to grant: those requested that are grantable, or all grantable when none are asked. */
export function grantScope(requested: readonly string[] | undefined, grantable: readonly string[]): string {
  if (requested === undefined) return grantable.join(' ');
  return requested.filter((scope) => grantable.includes(scope)).join(' ');
}
