/** HTTP Basic credentials (RFC 7617) as the guards accept them. */
import { isUtf8 } from 'node:buffer';

/** The longest username (or email) and password `POST /token` accepts; Basic takes no more. */
const BASIC_USERNAME_MAX = 320;
const BASIC_PASSWORD_MAX = 1024;

/**
 * The user-id and password of a Basic header (RFC 7617 §2), or undefined when they are not
 * UTF-8 text without control characters (which §2 forbids, and a NUL PostgreSQL refuses) of a
 * length `POST /token` would accept.
 */
export function parseBasicCredentials(base64: string): { username: string; password: string } | undefined {
  const raw = Buffer.from(base64, 'base64');
  if (!isUtf8(raw)) return undefined;
  const decoded = raw.toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || /\p{Cc}/u.test(decoded)) return undefined;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (username.length > BASIC_USERNAME_MAX || password.length > BASIC_PASSWORD_MAX) return undefined;
  return { username, password };
}
