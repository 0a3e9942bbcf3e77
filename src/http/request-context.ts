import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../auth/sessions.ts';

/** Client IP (the socket's, unless a trusted proxy is configured) and user agent, for sessions and audit. */
export function requestContext(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
  };
}
