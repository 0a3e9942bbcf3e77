/**
 * `GATEHOUSE_ISSUER=http://localhost:8000 npm run example:resource-server` — serves on
 * http://127.0.0.1:8001 (`PORT`), trusting tokens from that Gatehouse server.
 */
import { buildResourceServer } from './app.ts';

const issuer = process.env.GATEHOUSE_ISSUER ?? 'http://localhost:8000';
const port = Number(process.env.PORT ?? 8001);
const cooldown = process.env.JWKS_COOLDOWN_MS;
const app = buildResourceServer({
  issuer,
  ...(cooldown !== undefined ? { jwksCooldownMs: Number(cooldown) } : {}),
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
const address = await app.listen({ host: '127.0.0.1', port });
console.log(`resource server on ${address}, trusting ${issuer}`);
