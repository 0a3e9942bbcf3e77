import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { InvalidTokenError, NotAuthenticatedError } from '../../auth/errors.ts';
import type { GatehouseMetrics } from '../../observability/metrics.ts';

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i;

// Digests have one length whatever was sent, so the comparison reveals neither the token's
// length nor how much of it matched.
const digest = (value: string) => createHash('sha256').update(value).digest();

/** `GET /metrics` in Prometheus text format; with `token` set, only for `Authorization: Bearer <token>`. */
export async function metricsRoutes(
  app: FastifyInstance,
  options: { metrics: GatehouseMetrics; token: string | undefined },
): Promise<void> {
  const { metrics } = options;
  const expected = options.token === undefined ? undefined : digest(options.token);
  app.get(
    '/metrics',
    // A scraper's endpoint, not part of the API a client programs against.
    { schema: { hide: true } },
    async (request, reply) => {
      if (expected !== undefined) {
        const presented = BEARER.exec(request.headers.authorization ?? '')?.[1];
        if (presented === undefined) throw new NotAuthenticatedError();
        if (!timingSafeEqual(digest(presented), expected)) throw new InvalidTokenError('wrong metrics token');
      }
      const text = await metrics.scrape();
      return reply.header('cache-control', 'no-store').type(metrics.contentType).send(text);
    },
  );
}
