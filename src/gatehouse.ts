/**
 * The composition root: builds every service once from a Config. The plugin, the standalone
 * server and the CLI all start here; nothing else constructs services.
 */
import { type AccountService, createAccountService } from './auth/accounts.ts';
import { type ApiKeyService, createApiKeyService } from './auth/api-keys.ts';
import { type KeyRing, loadKeyRing } from './auth/keys.ts';
import { createPasswordHasher, type PasswordHasher } from './auth/passwords.ts';
import { createRoleService, type RoleService } from './auth/permissions.ts';
import { createRateLimits, type RateLimits } from './auth/rate-limits.ts';
import { createMemoryRevocationState, type RevocationState } from './auth/revocation.ts';
import { createSessionService, type SessionService } from './auth/sessions.ts';
import { CLOCK_SKEW_SECONDS, createTokenService, type TokenService } from './auth/tokens.ts';
import { createUserAdminService, type UserAdminService } from './auth/user-admin.ts';
import { type Clock, systemClock } from './clock.ts';
import type { Config } from './config.ts';
import { migrateToLatest, openStore, type Store } from './store/db.ts';
import { listSessionsRevokedSince } from './store/sessions.ts';
import { createUserStore } from './store/users.ts';

export interface Gatehouse {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: Store;
  readonly keys: KeyRing;
  readonly hasher: PasswordHasher;
  readonly tokens: TokenService;
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly revocation: RevocationState;
  readonly roles: RoleService;
  readonly apiKeys: ApiKeyService;
  readonly rateLimits: RateLimits;
  readonly userAdmin: UserAdminService;
  /** Periodic upkeep: rotates the signing key when due and picks up keys rotated elsewhere. */
  runMaintenance(): Promise<void>;
  close(): Promise<void>;
}

export interface CreateGatehouseOptions {
  readonly clock?: Clock;
  /** PostgreSQL schema to use instead of `public` (tests isolate runs this way). */
  readonly pgSchema?: string;
  /** Apply pending migrations first (default true). */
  readonly migrate?: boolean;
  /** Errors of background work (never a client's); default: printed to stderr. */
  readonly onBackgroundError?: (error: unknown) => void;
}

export async function createGatehouse(
  config: Config,
  options: CreateGatehouseOptions = {},
): Promise<Gatehouse> {
  const clock = options.clock ?? systemClock;
  const store = openStore(config.databaseUrl, options.pgSchema ? { pgSchema: options.pgSchema } : {});
  try {
    if (options.migrate !== false) await migrateToLatest(store, options.pgSchema);
    const retainMs = (config.accessTokenTtlSeconds + CLOCK_SKEW_SECONDS) * 1000;
    const keys = await loadKeyRing(store, config.jwtAlg, config.jwtSecret, clock, {
      retainRetiredMs: retainMs,
    });
    const hasher = await createPasswordHasher(
      {
        memoryKib: config.argon2MemoryKib,
        iterations: config.argon2Iterations,
        parallelism: config.argon2Parallelism,
      },
      config.hashConcurrency,
      config.hashQueueMax,
    );
    const tokens = createTokenService(keys, clock, {
      issuer: config.issuer,
      audience: config.audience,
      ttlSeconds: config.accessTokenTtlSeconds,
      cacheSize: config.tokenCacheSize,
    });
    const revocation = createMemoryRevocationState({ retainMs, now: () => clock.now() });
    for (const { id, revokedAt } of await listSessionsRevokedSince(store.db, clock.now() - retainMs)) {
      revocation.markSessionsRevoked([id], revokedAt);
    }
    const roles = await createRoleService(store);
    const onBackgroundError =
      options.onBackgroundError ?? ((error: unknown) => console.error('gatehouse: background error', error));
    const apiKeys = createApiKeyService(store, clock, onBackgroundError);
    const rateLimits = createRateLimits({
      token: config.rateLimitToken,
      login: config.rateLimitLogin,
      register: config.rateLimitRegister,
      basic: config.rateLimitBasic,
    });
    const users = createUserStore(store);
    const accounts = createAccountService({
      users,
      store,
      hasher,
      revocation,
      clock,
      options: { passwordMinLength: config.passwordMinLength },
    });
    const sessions = createSessionService({
      store,
      accounts,
      hasher,
      tokens,
      revocation,
      clock,
      options: {
        sessionTtlSeconds: config.sessionTtlSeconds,
        idleTtlSeconds: config.sessionIdleTtlSeconds,
        reuseGraceSeconds: config.refreshReuseGraceSeconds,
        passwordMinLength: config.passwordMinLength,
        permissionsOf: (user) => roles.permissionsOf(user.roles),
      },
    });
    const userAdmin = createUserAdminService({ users, accounts, store, revocation, clock });
    return {
      config,
      userAdmin,
      clock,
      store,
      keys,
      hasher,
      tokens,
      accounts,
      sessions,
      revocation,
      roles,
      apiKeys,
      rateLimits,
      runMaintenance: async () => {
        await keys.rotateIfOlderThan(config.keyRotationDays);
        await roles.reload();
      },
      close: () => store.close(),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Creates the configured admin when no user has that username. Returns true when created. */
export async function bootstrapAdmin(gatehouse: Gatehouse): Promise<boolean> {
  const { adminUsername, adminEmail, adminPassword } = gatehouse.config;
  if (adminUsername === undefined || adminEmail === undefined || adminPassword === undefined) return false;
  if (await gatehouse.accounts.findByUsername(adminUsername)) return false;
  await gatehouse.accounts.register({
    username: adminUsername,
    email: adminEmail,
    password: adminPassword,
    roles: ['user', 'admin'],
  });
  return true;
}
