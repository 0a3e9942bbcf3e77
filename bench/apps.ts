/**
 * The bench's reference apps, one per process: `node bench/apps.ts <kind> <port> [dir]`.
 * - `bare`: a bare Fastify 5 hello app (no plugins, no logger), the baseline of every share;
 * - `host`: a host API's own route (`GET /items`), no Gatehouse;
 * - `host-gatehouse`: the same app with the Gatehouse plugin registered (SQLite in `dir`).
 * Prints `ready` once listening.
 */
import Fastify from 'fastify';
import { gatehouse } from '../src/plugin.ts';

const [kind, port, dir] = process.argv.slice(2);
const app = Fastify();
if (kind === 'bare') {
  app.get('/', async () => ({ hello: 'world' }));
} else if (kind === 'host' || kind === 'host-gatehouse') {
  if (kind === 'host-gatehouse') {
    await app.register(gatehouse, {
      databaseUrl: `sqlite:${dir}/host.db`,
      issuer: `http://127.0.0.1:${port}`,
    });
  }
  app.get('/items', async () => [{ id: 1, name: 'one' }]);
} else {
  throw new Error(`unknown app "${kind}"`);
}
await app.listen({ port: Number(port), host: '127.0.0.1' });
// An orderly exit on SIGTERM, so that a profiler attached (`npm run bench:profile`) writes its profile.
process.once('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
