import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../auth/request-context.ts';

/**
 * Client IP (the socket's, unless a trusted proxy is configured), user agent and the signed-in
 * caller, for sessions and audit.
 */
export function requestContext(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
    actorId: request.principal?.user.id ?? null,
  };
}
