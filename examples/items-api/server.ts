/** `npm run example:items` — the items API with Gatehouse embedded, on http://127.0.0.1:3000. */
import { mkdirSync } from 'node:fs';
import { buildItemsApi } from './app.ts';

const port = Number(process.env.PORT ?? 3000);
const dataDir = process.env.ITEMS_DATA_DIR ?? './data';
mkdirSync(dataDir, { recursive: true });
const app = await buildItemsApi({
  gatehouse: {
    databaseUrl: `sqlite:${dataDir}/items-gatehouse.db`,
    issuer: `http://127.0.0.1:${port}`,
    logLevel: 'info',
  },
  itemsDatabase: `${dataDir}/items.db`,
  logger: true,
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
await app.listen({ host: '127.0.0.1', port });
