/**
 * Helpers of the logout tests: a relying party's back-channel logout endpoint (a real node:http
 * server on an OS-chosen port), and a sign-in to a client through `app.inject` that ends with
 * openid-client's tokens.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import * as client from 'openid-client';
import { BROWSER_ACCEPT, browserFormHeaders, form } from '../pages/form-client.ts';
import { authorizationRequest, authorizeWithCookie } from './provider-support.ts';

export interface ReceivedLogout {
  readonly contentType: string | undefined;
  readonly logoutToken: string | undefined;
}

export interface LogoutReceiver {
  readonly uri: string;
  readonly received: ReceivedLogout[];
  /** The next POST this receiver gets (the first not yet taken by `next`). */
  next(): Promise<ReceivedLogout>;
  /** How the receiver answers each POST from now on (default 200). */
  answerWith(answer: (logout: ReceivedLogout) => Promise<number> | number): void;
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startLogoutReceiver(): Promise<LogoutReceiver> {
  const received: ReceivedLogout[] = [];
  const waiters = new Map<number, (logout: ReceivedLogout) => void>();
  let taken = 0;
  let answer: (logout: ReceivedLogout) => Promise<number> | number = () => 200;
  const server = createServer((request, response) => {
    void (async () => {
      const logout = {
        contentType: request.headers['content-type'],
        logoutToken: new URLSearchParams(await bodyOf(request)).get('logout_token') ?? undefined,
      };
      received.push(logout);
      waiters.get(received.length - 1)?.(logout);
      const status = await answer(logout);
      response.writeHead(status, { 'cache-control': 'no-store' }).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    uri: `http://127.0.0.1:${port}/backchannel-logout`,
    received,
    next() {
      const index = taken;
      taken += 1;
      const already = received[index];
      if (already !== undefined) return Promise.resolve(already);
      return new Promise((resolve) => waiters.set(index, resolve));
    },
    answerWith(next) {
      answer = next;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The hidden fields of a page's first form, and its action. */
export function formOf(page: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1] ?? '';
  const fields = Object.fromEntries(
    [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
      m[1] ?? '',
      (m[2] ?? '').replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'"),
    ]),
  );
  return { action: action.replaceAll('&amp;', '&'), fields };
}

/**
 * The code flow as the signed-in browser (`cookie`) through `app.inject`, with the consent
 * screen's Allow when it shows; the token request is openid-client's, over HTTP.
 */
export async function signInToClient(
  app: FastifyInstance,
  cookie: string,
  rp: client.Configuration,
  redirectUri: string,
  scope = 'openid profile email offline_access',
) {
  const request = await authorizationRequest(rp, redirectUri, { scope });
  let { response, location } = await authorizeWithCookie(app, cookie, request.url);
  if (response.statusCode === 200) {
    const consent = formOf(response.body);
    const allowed = await app.inject({
      method: 'POST',
      url: consent.action,
      headers: browserFormHeaders({ cookie }),
      payload: form({ ...consent.fields, decision: 'allow' }),
    });
    const next = allowed.headers.location;
    location = typeof next === 'string' ? new URL(next) : undefined;
  }
  if (location === undefined || !location.href.startsWith(redirectUri))
    throw new Error(`no code: ${response.statusCode} ${location?.href ?? response.body.slice(0, 300)}`);
  return client.authorizationCodeGrant(rp, location, request.checks);
}

/** `GET` of an end-session URL as the browser with `cookie`; the answer and where it redirects. */
export async function visit(app: FastifyInstance, url: URL, cookie: string | undefined) {
  const response = await app.inject({
    method: 'GET',
    url: `${url.pathname}${url.search}`,
    headers: { accept: BROWSER_ACCEPT, ...(cookie ? { cookie } : {}) },
  });
  const location = response.headers.location;
  return { response, location: typeof location === 'string' ? location : undefined };
}
