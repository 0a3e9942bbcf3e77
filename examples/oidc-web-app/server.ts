/**
 * A web app whose people sign in through Gatehouse with openid-client: authorization code + PKCE,
 * state and nonce; the ID token names the user; signing out ends the Gatehouse session too when
 * Gatehouse offers RP-initiated logout. Register it once, then start it (README, "Single sign-on"):
 *   npx gatehouse clients add --name "Example app" \
 *     --redirect-uri http://localhost:3000/callback --post-logout-redirect-uri http://localhost:3000/
 *   GATEHOUSE_ISSUER=http://127.0.0.1:8000 CLIENT_ID=… CLIENT_SECRET=… npm run example:oidc-web-app
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import * as oidc from 'openid-client';

const { GATEHOUSE_ISSUER = 'http://127.0.0.1:8000', CLIENT_ID = '', CLIENT_SECRET = '' } = process.env;
const { PORT = '3000', APP_URL = `http://localhost:${PORT}` } = process.env;
const issuer = new URL(GATEHOUSE_ISSUER);
// openid-client speaks only https, unless told that this Gatehouse is plain http on your machine.
const options = issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {};
const auth = oidc.ClientSecretBasic(CLIENT_SECRET);
const config = await oidc.discovery(issuer, CLIENT_ID, undefined, auth, options);
// Sessions in memory, by a random cookie; a real app keeps them in its own store.
type Session = { checks?: oidc.AuthorizationCodeGrantChecks; user?: oidc.IDToken; idToken?: string };
const sessions = new Map<string, Session>();
const escapeHtml = (text: unknown) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', APP_URL);
  const sid = /(?:^|;\s*)app_session=([\w-]{22})/.exec(request.headers.cookie ?? '')?.[1] ?? '';
  const session = sessions.get(sid);
  const redirect = (to: URL | string) => void response.writeHead(302, { location: String(to) }).end();
  const page = (status: number, body: string) =>
    void response
      .writeHead(status, { 'content-type': 'text/html; charset=utf-8' })
      .end(`<!doctype html><title>Example app</title><main>${body}</main>`);
  try {
    if (url.pathname === '/login') {
      const [state, nonce, pkce] = [oidc.randomState(), oidc.randomNonce(), oidc.randomPKCECodeVerifier()];
      const id = randomBytes(16).toString('base64url');
      sessions.set(id, { checks: { expectedState: state, expectedNonce: nonce, pkceCodeVerifier: pkce } });
      response.setHeader('set-cookie', `app_session=${id}; Path=/; HttpOnly; SameSite=Lax`);
      const code_challenge = await oidc.calculatePKCECodeChallenge(pkce);
      const scope = 'openid profile email';
      const redirect_uri = `${APP_URL}/callback`;
      const parameters = { redirect_uri, scope, state, nonce, code_challenge, code_challenge_method: 'S256' };
      return redirect(oidc.buildAuthorizationUrl(config, parameters));
    }
    if (url.pathname === '/callback' && session?.checks) {
      const tokens = await oidc.authorizationCodeGrant(config, url, session.checks);
      sessions.set(sid, { user: tokens.claims(), idToken: tokens.id_token });
      return redirect('/');
    }
    if (url.pathname === '/logout' && session?.idToken) {
      sessions.delete(sid);
      if (config.serverMetadata().end_session_endpoint === undefined) return redirect('/');
      const parameters = { id_token_hint: session.idToken, post_logout_redirect_uri: `${APP_URL}/` };
      return redirect(oidc.buildEndSessionUrl(config, parameters));
    }
    const user = session?.user;
    if (user === undefined) return page(200, '<a href="/login">Sign in</a>');
    const who = `${escapeHtml(user.name ?? user.preferred_username)} (${escapeHtml(user.email)})`;
    return page(200, `<p>Signed in as ${who}</p><a href="/logout">Sign out</a>`);
  } catch (error) {
    return page(400, `<p>Sign-in failed: ${escapeHtml((error as Error).message)}</p><a href="/">Back</a>`);
  }
}).listen(Number(PORT), '127.0.0.1', () => console.log(`example app on ${APP_URL}, through ${issuer.href}`));
