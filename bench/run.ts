/**
 * `npm run bench`: whoami (hot and cold tokens) against a trivial route, login against the
 * hash-bound limit, and whoami latency while logins saturate. Writes bench/results.json.
 * `npm run bench -- --scale` adds the scale run (bench/scale.ts); `-- --scale-only` runs only that.
 */
import { argon2 as nodeArgon2, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash as rsHash, verify as rsVerify } from '@node-rs/argon2';
import autocannon from 'autocannon';
import { loadKeyRing } from '../src/auth/keys.ts';
import { createTokenService } from '../src/auth/tokens.ts';
import { systemClock } from '../src/clock.ts';
import { openStore } from '../src/store/db.ts';
import { runScaleFromEnvironment } from './scale.ts';
import { startServer } from './server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 6);
const CONNECTIONS = 32;
const PASSWORD = 'correct horse battery staple';
const OWASP = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

interface Load {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  requests: number;
}

async function load(options: autocannon.Options): Promise<Load> {
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION_S, ...options });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    requests: result.requests.total,
  };
}

async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const started = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return (performance.now() - started) / runs;
}

async function verifyThroughput(storedHash: string, concurrency: number, total: number): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started++ < total) await rsVerify(storedHash, PASSWORD);
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

function nodeArgon2Hash(password: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    nodeArgon2(
      'argon2id',
      { message: password, nonce: randomBytes(16), parallelism: 1, tagLength: 32, memory: 19456, passes: 2 },
      (error, derived) => (error ? reject(error) : resolve(derived)),
    ),
  );
}

/** The single-process runs on SQLite: whoami, login and mixed; writes bench/results.json. */
async function runBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const server = await startServer(dir);
  try {
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

    // Cold tokens: minted with the server's own key from its database, exactly as /token would
    // (logging in tens of thousands of times would measure argon2, not verification).
    const store = openStore(server.databaseUrl);
    const keys = await loadKeyRing(store, 'EdDSA', undefined, systemClock, { retainRetiredMs: 930_000 });
    const minter = createTokenService(keys, systemClock, {
      issuer: server.issuer,
      audience: server.issuer,
      ttlSeconds: 900,
      cacheSize: 0,
    });
    const me = (await (
      await fetch(`${server.url}/users/me`, { headers: { authorization: `Bearer ${hotToken}` } })
    ).json()) as { id: string };
    const COLD_TOKENS = 120_000;
    const coldTokens = Array.from(
      { length: COLD_TOKENS },
      () =>
        minter.issueAccessToken({
          userId: me.id,
          username: 'bench0',
          roles: ['user'],
          scope: 'profile:read profile:write',
        }).token,
    );
    await store.close();

    const trivial = await load({ url: `${server.url}/` });
    const hot = await load({
      url: `${server.url}/users/me`,
      headers: { authorization: `Bearer ${hotToken}` },
    });
    const trivialAgain = await load({ url: `${server.url}/` });
    let next = 0;
    const cold = await load({
      url: `${server.url}/users/me`,
      requests: [
        {
          setupRequest: (request) => {
            request.headers = {
              ...request.headers,
              authorization: `Bearer ${coldTokens[next++ % COLD_TOKENS]}`,
            };
            return request;
          },
        },
      ],
    });
    const trivialRps = (trivial.rps + trivialAgain.rps) / 2;

    const verifyMs = await timeIt(10, async () =>
      rsVerify(await rsHash(PASSWORD, { ...OWASP, algorithm: 2 }), PASSWORD),
    );
    const storedHash = await rsHash(PASSWORD, { ...OWASP, algorithm: 2 });
    const nodeHashMs = await timeIt(20, () => nodeArgon2Hash(PASSWORD));
    const rsHashMs = await timeIt(20, () => rsHash(PASSWORD, { ...OWASP, algorithm: 2 }));
    const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

    let user = 0;
    const loginOptions: autocannon.Options = {
      url: `${server.url}/token`,
      connections: 8,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      requests: [
        {
          setupRequest: (request) => {
            request.body = form(users[user++ % users.length] ?? 'bench0');
            return request;
          },
        },
      ],
    };
    // The machine's speed drifts (shared hosts): time one verify right before and right after the
    // login run and use the mean, so the ratio compares like with like.
    const verifyBefore = await timeIt(20, () => rsVerify(storedHash, PASSWORD));
    const loginRun = await load(loginOptions);
    const verifyAfter = await timeIt(20, () => rsVerify(storedHash, PASSWORD));
    const rsVerifyMs = (verifyBefore + verifyAfter) / 2;
    // What the hardware gives when nothing but hashes run: one verify per core, back to back.
    const parallelVerifyPerSecond = await verifyThroughput(storedHash, availableParallelism(), 80);
    const hashBoundLimit = Math.min(threadpool, availableParallelism()) / (rsVerifyMs / 1000);
    const [mixedWhoami, mixedLogin] = await Promise.all([
      load({ url: `${server.url}/users/me`, headers: { authorization: `Bearer ${hotToken}` } }),
      load(loginOptions),
    ]);

    const results = {
      date: new Date().toISOString(),
      machine: {
        cores: availableParallelism(),
        node: process.version,
        durationSeconds: DURATION_S,
        connections: CONNECTIONS,
      },
      trivial: { rps: trivialRps, runs: [trivial, trivialAgain] },
      whoamiHot: { ...hot, ratioToTrivial: hot.rps / trivialRps },
      whoamiCold: {
        ...cold,
        ratioToTrivial: cold.rps / trivialRps,
        distinctTokens: Math.min(cold.requests, COLD_TOKENS),
      },
      login: {
        ...loginRun,
        argon2VerifyMs: rsVerifyMs,
        argon2VerifyMsBeforeAfter: [verifyBefore, verifyAfter],
        hashBoundLimitPerSecond: hashBoundLimit,
        fractionOfLimit: loginRun.rps / hashBoundLimit,
        parallelVerifyPerSecond,
        fractionOfParallelVerify: loginRun.rps / parallelVerifyPerSecond,
      },
      mixed: {
        whoami: mixedWhoami,
        login: mixedLogin,
        p99RatioToUnloaded: mixedWhoami.p99 / Math.max(hot.p99, 1),
      },
      argon2: {
        nodeRsHashMs: rsHashMs,
        nodeCryptoHashMs: nodeHashMs,
        nodeRsVerifyMs: rsVerifyMs,
        hashPlusVerifyMs: verifyMs,
      },
      targets: {
        hotWhoamiAtLeastHalfOfTrivial: hot.rps / trivialRps >= 0.5,
        coldWhoamiAtLeastFifthOfTrivial: cold.rps / trivialRps >= 0.2,
        loginAtLeast80PercentOfHashBound: loginRun.rps / hashBoundLimit >= 0.8,
        mixedP99AtMost3xUnloaded: mixedWhoami.p99 / Math.max(hot.p99, 1) <= 3,
      },
    };
    writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);

    const f = (n: number, digits = 0) => n.toFixed(digits);
    console.log(
      '\nGatehouse bench',
      results.date,
      `(${results.machine.cores} cores, ${process.version}, ${DURATION_S}s per run)`,
    );
    console.table({
      'trivial GET /': {
        'req/s': f(trivialRps),
        p50_ms: f(trivial.p50, 1),
        p99_ms: f(trivial.p99, 1),
        note: '',
      },
      'whoami hot': {
        'req/s': f(hot.rps),
        p50_ms: f(hot.p50, 1),
        p99_ms: f(hot.p99, 1),
        note: `${f(100 * results.whoamiHot.ratioToTrivial)}% of trivial (target ≥ 50%)`,
      },
      'whoami cold': {
        'req/s': f(cold.rps),
        p50_ms: f(cold.p50, 1),
        p99_ms: f(cold.p99, 1),
        note: `${f(100 * results.whoamiCold.ratioToTrivial)}% of trivial (target ≥ 20%), ${results.whoamiCold.distinctTokens} distinct tokens`,
      },
      'login POST /token': {
        'req/s': f(loginRun.rps, 1),
        p50_ms: f(loginRun.p50, 1),
        p99_ms: f(loginRun.p99, 1),
        note: `${f(100 * results.login.fractionOfLimit)}% of hash-bound ${f(hashBoundLimit, 1)}/s (verify ${f(rsVerifyMs, 1)} ms; target ≥ 80%)`,
      },
      'whoami during logins': {
        'req/s': f(mixedWhoami.rps),
        p50_ms: f(mixedWhoami.p50, 1),
        p99_ms: f(mixedWhoami.p99, 1),
        note: `p99 ${f(results.mixed.p99RatioToUnloaded, 2)}× unloaded (target ≤ 3×)`,
      },
    });
    console.log(
      `argon2id verifies alone, one per core: ${f(parallelVerifyPerSecond, 1)}/s (${f((100 * parallelVerifyPerSecond) / hashBoundLimit)}% of the hash-bound limit); logins reach ${f(100 * results.login.fractionOfParallelVerify)}% of that`,
    );
    console.log(
      `argon2id m=19456 t=2 p=1 hash: @node-rs/argon2 ${f(rsHashMs, 1)} ms, node:crypto ${f(nodeHashMs, 1)} ms`,
    );
    console.log('targets met:', results.targets);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (!args.includes('--scale-only')) await runBench();
if (args.includes('--scale') || args.includes('--scale-only')) await runScaleFromEnvironment();
