import type { FastifyRequest } from 'fastify';
import { canonicalAddress } from '../auth/client-address.ts';
import type { RequestContext } from '../auth/request-context.ts';

/**
 * The client's address in its canonical spelling: the socket's, or with a trusted proxy the
 * nearest untrusted `X-Forwarded-For` entry. proxy-addr stops at the first entry it does not
 * trust and never trusts one that is not an address, so when that entry is garbage the hop
 * before it, the proxy that forwarded it, is the client as far as anyone can tell.
 */
export function clientIp(request: FastifyRequest): string {
  const ip = canonicalAddress(request.ip);
  if (ip !== undefined) return ip;
  const hops = request.ips ?? [];
  for (let i = hops.length - 2; i >= 0; i--) {
    const hop = canonicalAddress(hops[i]);
    if (hop !== undefined) return hop;
  }
  return canonicalAddress(request.socket?.remoteAddress) ?? 'unknown';
}

/**
 * Client IP (see `clientIp`) user agent and the signed-in caller, for sessions, audit and per-client limits. The user
 * agent is stored as text: control characters (a NUL, which PostgreSQL refuses) become U+FFFD,
 * and cutting it to 512 characters leaves no half of a surrogate pair.
 */
export function requestContext(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return {
    ip: clientIp(request),
    userAgent:
      typeof userAgent === 'string'
        ? userAgent
            .replace(/\p{Cc}/gu, '\uFFFD')
            .slice(0, 512)
            .toWellFormed()
        : null,
    actorId: request.principal?.user.id ?? null,
  };
}
