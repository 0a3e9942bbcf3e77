/**
 * Browsers refuse WebAuthn on an IP-address origin (the relying party ID must be a domain), and
 * a fresh server is reached at 127.0.0.1 as often as at localhost. When the public URL's host is
 * `localhost`, a browser opening a page at a loopback address on the public URL's port (the same
 * server, by its address instead of its name) is sent to the same path and query on the public
 * URL's origin, where passkeys work and the session cookie is the pages' own.
 * Installed on the page contexts only: API routes (JSON, posts, /token, /.well-known, /healthz)
 * answer wherever they are reached.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { prefersHtml } from './pages/negotiation.ts';

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

/** The origin a request was addressed to, when its Host is a loopback address. */
function loopbackOriginOf(request: FastifyRequest): URL | undefined {
  let url: URL;
  try {
    url = new URL(`${request.protocol}://${request.host}`);
  } catch {
    return undefined;
  }
  const loopback = url.hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
  return loopback ? url : undefined;
}

const portOf = (url: URL) => url.port || DEFAULT_PORTS[url.protocol];

/** A browser's navigation to a page: a GET or HEAD that ranks HTML above JSON. */
function isPageNavigation(request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && prefersHtml(request);
}

/** Adds the redirect to `scope` (a context of pages) when `publicUrl` is on localhost. */
export function installLocalhostRedirect(scope: FastifyInstance, publicUrl: string): void {
  const target = new URL(publicUrl);
  if (target.hostname !== 'localhost') return;
  scope.addHook('onRequest', (request, reply, done) => {
    if (!isPageNavigation(request)) return done();
    const reached = loopbackOriginOf(request);
    // Another port is another server (or the public URL names a proxy): left alone.
    if (reached === undefined || portOf(reached) !== portOf(target)) return done();
    reply.code(307).header('location', `${target.origin}${request.url}`).send();
  });
}
