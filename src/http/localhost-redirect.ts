/**
 * Browsers refuse WebAuthn on an IP-address origin (the relying party ID must be a domain), and
 * a fresh server is reached at 127.0.0.1 as often as at localhost. When the public URL's host is
 * `localhost`, a browser opening a page at a loopback address is sent to the same path and query
 * on the public URL's origin, where passkeys work and the session cookie is the pages' own.
 * Installed on the page contexts only: API routes (JSON, posts, /token, /.well-known, /healthz)
 * answer wherever they are reached.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { prefersHtml } from './pages/negotiation.ts';

function isLoopbackAddress(host: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** A browser's navigation to a page: a GET or HEAD that ranks HTML above JSON. */
function isPageNavigation(request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && prefersHtml(request);
}

/** Adds the redirect to `scope` (a context of pages) when `publicUrl` is on localhost. */
export function installLocalhostRedirect(scope: FastifyInstance, publicUrl: string): void {
  const { hostname, origin } = new URL(publicUrl);
  if (hostname !== 'localhost') return;
  scope.addHook('onRequest', (request, reply, done) => {
    if (!isPageNavigation(request) || !isLoopbackAddress(request.host)) return done();
    reply.code(307).header('location', `${origin}${request.url}`).send();
  });
}
