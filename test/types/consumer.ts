/**
 * A host app written against the public entry only. test/types/declarations.test.ts type-checks
 * it on its own, so every type it uses must be reachable from src/index.ts.
 */
import Fastify from 'fastify';
import gatehouse, { type GatehouseRouteConfig, type Principal } from '../../src/index.ts';

export async function build() {
  const app = Fastify();
  await app.register(gatehouse, { prefix: '/auth', databaseUrl: 'sqlite::memory:' });
  const config: GatehouseRouteConfig = { rateLimit: 'basic', noStore: true };
  app.get(
    '/items',
    { onRequest: app.gatehouse.guards.requireScopes('items:read'), config: { gatehouse: config } },
    async (request) => {
      const principal: Principal | null = request.principal;
      return { owner: principal?.user.username ?? null, base: app.gatehouse.basePath };
    },
  );
  return app;
}
