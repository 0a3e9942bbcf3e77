/** What a browser sends with a same-origin form post, for `app.inject` tests of the pages. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/** `app.inject` requests arrive with Host `localhost:80`. */
export const OWN_ORIGIN = 'http://localhost:80';

export const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

export function browserFormHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    accept: BROWSER_ACCEPT,
    origin: OWN_ORIGIN,
    'sec-fetch-site': 'same-origin',
    'content-type': 'application/x-www-form-urlencoded',
    ...extra,
  };
}

export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export function cookieOf(response: LightMyRequestResponse): string {
  const header = response.headers['set-cookie'];
  const first = Array.isArray(header) ? header[0] : header;
  if (first === undefined) throw new Error('no cookie set');
  return first.split(';')[0] ?? '';
}

/** Signs in through the login form; returns the session cookie and the account page's CSRF token. */
export async function signInByForm(
  app: FastifyInstance,
  username: string,
  password: string,
): Promise<{ cookie: string; csrfToken: string; accountPage: string }> {
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    headers: browserFormHeaders(),
    payload: form({ username, password }),
  });
  if (login.statusCode !== 303) throw new Error(`login answered ${login.statusCode}: ${login.body}`);
  const cookie = cookieOf(login);
  const account = await app.inject({ method: 'GET', url: '/account', headers: { cookie } });
  const csrfToken = /name="csrf_token" value="([^"]+)"/.exec(account.body)?.[1];
  if (csrfToken === undefined) throw new Error('no csrf_token on /account');
  return { cookie, csrfToken, accountPage: account.body };
}

/** The visible inputs of a page: each `<input>` that is not hidden, with its attributes. */
export function visibleInputs(page: string): Record<string, string>[] {
  return [...page.matchAll(/<input\b([^>]*)>/g)]
    .map((match) =>
      Object.fromEntries(
        [...(match[1] ?? '').matchAll(/([a-z-]+)(?:="([^"]*)")?/g)].map((a) => [a[1], a[2] ?? '']),
      ),
    )
    .filter((attributes) => attributes.type !== 'hidden');
}
