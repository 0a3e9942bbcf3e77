import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { DatabaseUnavailableError } from '../../auth/errors.ts';

/** What `/readyz` asks: whether the database answers (the store's `ping`). */
export interface Readiness {
  ping(): Promise<unknown>;
}

export async function rootRoutes(app: FastifyInstance, options: { store: Readiness }): Promise<void> {
  app.get(
    '/',
    {
      schema: {
        summary: 'Welcome',
        tags: ['meta'],
        response: { 200: Type.Object({ message: Type.String(), docs: Type.String() }) },
      },
    },
    async () => ({ message: 'Welcome to Gatehouse', docs: '/docs' }),
  );
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness',
        tags: ['meta'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
      logLevel: 'warn',
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: 200 when the database answers',
        tags: ['meta'],
        response: {
          200: Type.Object({ status: Type.Literal('ready') }),
          503: Type.Object({ status: Type.Literal('unavailable'), detail: Type.String() }),
        },
      },
      logLevel: 'warn',
    },
    async (request, reply) => {
      try {
        await Promise.race([
          options.store.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), 2000).unref()),
        ]);
        return { status: 'ready' as const };
      } catch (error) {
        const reason = error instanceof DatabaseUnavailableError ? error.reason : String(error);
        request.log.warn({ reason: reason.slice(0, 200) }, 'database not ready');
        return reply.code(503).send({ status: 'unavailable' as const, detail: 'Database unavailable' });
      }
    },
  );
}
