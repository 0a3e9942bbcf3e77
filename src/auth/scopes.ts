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

/**
 * The scopes a credential grants now: those it lists (a space-separated `scope` or a list) that
 * the user still holds, or every held permission when it lists none (`undefined`). Checked
 * against current roles, so a role taken away counts at once even though a token still lists it.
 */
export function effectiveScopes(
  held: ReadonlySet<string>,
  listed: string | readonly string[] | undefined,
): ReadonlySet<string> {
  if (listed === undefined) return held;
  const scopes = typeof listed === 'string' ? listed.split(' ') : listed;
  return new Set(scopes.filter((scope) => scope !== '' && held.has(scope)));
}

/** `effectiveScopes` as the space-separated `scope` of a token response (RFC 6749 §3.3). */
export function effectiveScope(
  held: ReadonlySet<string>,
  listed: string | readonly string[] | undefined,
): string {
  return [...effectiveScopes(held, listed)].join(' ');
}
