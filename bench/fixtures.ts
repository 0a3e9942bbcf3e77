/**
 * What the bench and the profiler need of a running `gatehouse serve`: 20 registered users, a
 * hot token from `POST /token`, and a minter of valid tokens signed with the server's own key
 * (logging in tens of thousands of times would measure argon2, not verification).
 */
import { loadKeyRing } from '../src/auth/keys.ts';
import { createTokenService } from '../src/auth/tokens.ts';
import { systemClock } from '../src/clock.ts';
import type { JwtAlgorithm } from '../src/config.ts';
import { openStore } from '../src/store/db.ts';
import type { BenchServer } from './server.ts';

export const PASSWORD = 'correct horse battery staple';

export interface BenchFixtures {
  /** `bench0`…`bench19`, all with PASSWORD. */
  readonly users: readonly string[];
  /** The form body of `POST /token` for a user. */
  form(username: string): string;
  /** An access token of `bench0` from `POST /token`. */
  readonly hotToken: string;
  /** The id of `bench0`. */
  readonly userId: string;
  /** A new valid access token, exactly as `/token` would issue it. */
  mint(userId: string, username: string): string;
}

export async function prepareServer(server: BenchServer): Promise<BenchFixtures> {
  const post = (path: string, body: string, type: string) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  const users = Array.from({ length: 20 }, (_, i) => `bench${i}`);
  for (const username of users) {
    const response = await post(
      '/register',
      JSON.stringify({ username, email: `${username}@example.com`, password: PASSWORD }),
      'application/json',
    );
    if (response.status !== 201) throw new Error(`register: ${response.status} ${await response.text()}`);
  }
  const form = (username: string) => new URLSearchParams({ username, password: PASSWORD }).toString();
  const tokenResponse = await post('/token', form('bench0'), 'application/x-www-form-urlencoded');
  const { access_token: hotToken } = (await tokenResponse.json()) as { access_token: string };

  const store = openStore(server.databaseUrl);
  const keys = await loadKeyRing(
    store,
    (process.env.GATEHOUSE_JWT_ALG ?? 'EdDSA') as JwtAlgorithm,
    undefined,
    systemClock,
    { retainRetiredMs: 930_000 },
  );
  const minter = createTokenService(keys, systemClock, {
    issuer: server.issuer,
    audience: server.issuer,
    ttlSeconds: 900,
    cacheSize: 0,
  });
  await store.close();
  const me = (await (
    await fetch(`${server.url}/users/me`, { headers: { authorization: `Bearer ${hotToken}` } })
  ).json()) as { id: string };
  const mint = (userId: string, username: string) =>
    minter.issueAccessToken({ userId, username, roles: ['user'], scope: 'profile:read profile:write' }).token;
  return { users, form, hotToken, userId: me.id, mint };
}
