/**
 * The composition root: builds every service once from a Config. The plugin, the standalone
 * server and the CLI all start here; nothing else constructs services.
 */
import { createAccountService } from './auth/accounts.ts';
import { createApiKeyService } from './auth/api-keys.ts';
import { createAuditLog } from './auth/audit-log.ts';
import { createEmailFlowService } from './auth/email-flows.ts';
import { createEmailLinks } from './auth/email-links.ts';
import { DatabaseUnavailableError } from './auth/errors.ts';
import { createExternalSignIn } from './auth/external/sign-in.ts';
import { createFactorServiceFromConfig } from './auth/factors/factors.ts';
import { type KeySet, loadKeySet } from './auth/key-set.ts';
import { type KeyRing, loadKeyRing } from './auth/keys.ts';
import { createLoginThrottle, noLoginThrottle } from './auth/login-throttle.ts';
import { createMaintenanceRun } from './auth/maintenance.ts';
import { createOidcServices } from './auth/oidc/oidc-services.ts';
import type { OpenIdProvider } from './auth/oidc/provider.ts';
import { createPasswordHasher, type PasswordHasher } from './auth/passwords.ts';
import { createRoleService } from './auth/permissions.ts';
import { createRateLimits, memoryLimiters, type RateLimits, redisLimiters } from './auth/rate-limits.ts';
import {
  createMemoryRevocationState,
  createSharedRevocationState,
  type RevocationState,
} from './auth/revocation.ts';
import { createSessionService } from './auth/sessions.ts';
import { CLOCK_SKEW_SECONDS, createTokenService, type TokenService } from './auth/tokens.ts';
import { createUserAdminService } from './auth/user-admin.ts';
import { createUserCache, USER_CACHE_MAX_AGE_MS } from './auth/user-cache.ts';
import { normalizeBasePath } from './base-path.ts';
import { type Clock, systemClock } from './clock.ts';
import { type ClusterEvent, createRedisLink, type RedisLink } from './cluster/redis-link.ts';
import type { Config } from './config.ts';
import { createMailOutbox, type MailOutbox } from './mail/outbox.ts';
import { loadMailTemplates } from './mail/templates.ts';
import { instrumentSessions, loginOutcomeOf } from './observability/instrument-sessions.ts';
import { createMetrics } from './observability/metrics.ts';
import type { GatehouseServices } from './public-services.ts';
import { migrateToLatest, openStore, type Store } from './store/db.ts';
import { listSessionsRevokedSince } from './store/sessions.ts';

export { normalizeBasePath } from './base-path.ts';
export { type GatehouseServices, publicServices } from './public-services.ts';

export interface Gatehouse extends GatehouseServices {
  readonly config: Config;
  /** Where the routes are mounted (`''`, or the plugin's `prefix`): the path part of every link. */
  readonly basePath: string;
  readonly clock: Clock;
  readonly store: Store;
  readonly keys: KeyRing;
  /** Every signing key: the access-token ring and the ID-token rings (RS256 always). */
  readonly keySet: KeySet;
  /** Gatehouse as an OpenID Provider (`/authorize`, `/par`, client grants, `/userinfo`). */
  readonly oidc: OpenIdProvider;
  readonly hasher: PasswordHasher;
  readonly tokens: TokenService;
  readonly revocation: RevocationState;
  readonly rateLimits: RateLimits;
  /** The mail outbox and its worker (`start()` in `serve` and the plugin; stopped by `close()`). */
  readonly mail: MailOutbox;
  /** The Redis link between processes, when `GATEHOUSE_REDIS_URL` is set. */
  readonly redis: RedisLink | undefined;
  /**
   * One run of the periodic upkeep (`auth/maintenance.ts`): rotates the signing key when due and
   * picks up keys and roles changed elsewhere.
   */
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
  /** The path the routes are mounted at (the plugin's `prefix`, e.g. `/auth`); default none. */
  readonly basePath?: string;
}

export async function createGatehouse(
  config: Config,
  options: CreateGatehouseOptions = {},
): Promise<Gatehouse> {
  const clock = options.clock ?? systemClock;
  const basePath = normalizeBasePath(options.basePath);
  const store = openStore(config.databaseUrl, {
    poolMax: config.databasePoolMax,
    statementTimeoutMs: config.databaseStatementTimeoutSeconds * 1000,
    connectTimeoutMs: config.databaseConnectTimeoutSeconds * 1000,
    sqliteSynchronous: config.sqliteSynchronous,
    ...(options.pgSchema ? { pgSchema: options.pgSchema } : {}),
  });
  let redis: RedisLink | undefined;
  try {
    if (options.migrate !== false) await migrateToLatest(store, options.pgSchema);
    const retainMs = (config.accessTokenTtlSeconds + CLOCK_SKEW_SECONDS) * 1000;
    const onBackgroundError =
      options.onBackgroundError ??
      ((error: unknown) => {
        if (error instanceof DatabaseUnavailableError)
          console.warn(`gatehouse: background work skipped, database unavailable (${error.reason})`);
        else console.error('gatehouse: background error', error);
      });
    // Services the link's events act on; they exist by the time the link is first healthy.
    const late: { onEvent?: (event: ClusterEvent) => Promise<void>; onResync?: () => Promise<void> } = {};
    if (config.redisUrl !== undefined) {
      redis = createRedisLink({
        url: config.redisUrl,
        prefix: config.redisPrefix,
        onEvent: (event) => late.onEvent?.(event),
        onResync: async () => late.onResync?.(),
        onBackgroundError,
      });
    }
    const link = redis;
    const keyOptions = {
      retainRetiredMs: retainMs,
      ...(link ? { onRotated: () => link.publish({ type: 'keys-changed' }) } : {}),
    };
    const keys = await loadKeyRing(store, config.jwtAlg, config.jwtSecret, clock, keyOptions);
    const keySet = await loadKeySet(store, keys, clock, keyOptions);
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
    const localRevocation = createMemoryRevocationState({ retainMs, now: () => clock.now() });
    const loadRevocations = async () => {
      for (const { id, revokedAt } of await listSessionsRevokedSince(store.db, clock.now() - retainMs)) {
        localRevocation.markSessionsRevoked([id], revokedAt);
      }
    };
    await loadRevocations();
    const revocation = link ? createSharedRevocationState(localRevocation, link) : localRevocation;
    const userCache = createUserCache({
      maxEntries: config.userCacheSize,
      maxAgeMs: USER_CACHE_MAX_AGE_MS,
      now: () => clock.now(),
      ...(link ? { link } : {}),
    });
    // A role deleted with force leaves the users who held it: cached users may list it.
    const roles = await createRoleService(
      store,
      () => {
        userCache.clear();
        link?.publish({ type: 'roles-changed' });
      },
      clock,
    );
    const apiKeys = createApiKeyService(store, clock, onBackgroundError, roles, {
      defaultTtlSeconds: config.apiKeyTtlSeconds,
      maxTtlSeconds: config.apiKeyMaxTtlSeconds,
    });
    const limiters = link ? redisLimiters(link.commands, config.redisPrefix) : memoryLimiters;
    const rateLimits = createRateLimits(
      {
        token: config.rateLimitToken,
        login: config.rateLimitLogin,
        register: config.rateLimitRegister,
        basic: config.rateLimitBasic,
        mail: config.rateLimitMail,
        mail_address: config.rateLimitMailAddress,
        mail_address_ip: config.rateLimitMailAddressIp,
      },
      limiters,
      config.rateLimitIpv6Prefix,
    );
    const throttle =
      config.loginMaxFailures === null
        ? noLoginThrottle
        : createLoginThrottle({
            createLimiter: limiters,
            store,
            clock,
            options: {
              maxFailures: config.loginMaxFailures,
              accountMaxFailures: config.loginAccountMaxFailures,
              ipv6PrefixBits: config.rateLimitIpv6Prefix,
            },
          });
    const mail = createMailOutbox({
      store,
      clock,
      options: { smtpUrl: config.smtpUrl, from: config.mailFrom, outboxDir: config.outboxDir },
    });
    const templates = loadMailTemplates(config.mailTemplatesDir);
    const links = createEmailLinks({
      store,
      mail,
      templates,
      clock,
      options: {
        publicUrl: `${config.publicUrl}${basePath}`,
        appName: config.appName,
        verifyTokenTtlSeconds: config.verifyTokenTtlSeconds,
        resetTokenTtlSeconds: config.resetTokenTtlSeconds,
        magicLinkTtlSeconds: config.magicLinkTtlSeconds,
      },
    });
    const accounts = createAccountService({
      store,
      hasher,
      revocation,
      userCache,
      clock,
      options: {
        passwordMinLength: config.passwordMinLength,
        requireVerifiedEmail: config.requireVerifiedEmail,
      },
      sendVerification: links.sendVerification,
      onBackgroundError,
    });
    const metrics = createMetrics({ store, redis });
    const factors = await createFactorServiceFromConfig(config, {
      store,
      clock,
      accounts,
      roles,
      throttle,
      mail,
      templates,
    });
    const uncountedSessions = createSessionService({
      metrics,
      store,
      accounts,
      hasher,
      tokens,
      revocation,
      throttle,
      clock,
      secondStep: factors,
      options: {
        sessionTtlSeconds: config.sessionTtlSeconds,
        idleTtlSeconds: config.sessionIdleTtlSeconds,
        reuseGraceSeconds: config.refreshReuseGraceSeconds,
        passwordMinLength: config.passwordMinLength,
        permissionsOf: (user) => roles.permissionsOf(user.roles),
        permissionsOfRole: (role) => roles.permissionsOf([role]),
      },
    });
    // Counted wherever a login or grant starts: the routes, email flows and in-process callers.
    const sessions = instrumentSessions(uncountedSessions, metrics);
    const userAdmin = createUserAdminService({ accounts, roles, sessions, store, revocation, clock });
    const emailFlows = createEmailFlowService({
      store,
      accounts,
      sessions,
      hasher,
      revocation,
      rateLimits,
      links,
      clock,
      onBackgroundError,
      options: {
        passwordMinLength: config.passwordMinLength,
        magicLinkSignup: config.magicLinkSignup,
        registrationOpen: config.registration === 'open',
      },
    });
    const externalSignIn = createExternalSignIn({
      store,
      accounts,
      sessions,
      revocation,
      clock,
      settings: config,
      countLogin: (error) =>
        metrics.login('external', error === undefined ? 'success' : loginOutcomeOf(error)),
      options: {
        baseUrl: `${config.publicUrl}${basePath}`,
        registrationOpen: config.registration === 'open',
      },
    });
    const oidcServices = createOidcServices(config, basePath, {
      ...{ store, clock, roles, revocation, throttle, tokens, sessions, accounts },
      keys: keySet,
    });
    late.onEvent = async (event) => {
      if (event.type === 'sessions-revoked') localRevocation.markSessionsRevoked(event.ids, event.at);
      else if (event.type === 'users-changed') userCache.forget(event.ids);
      else if (event.type === 'roles-changed') {
        userCache.clear();
        await roles.reload();
      } else await keySet.reload();
    };
    // After an outage anything may have been missed: revocations, roles and keys are re-read,
    // cached users forgotten.
    late.onResync = async () => {
      userCache.clear();
      await loadRevocations();
      await roles.reload();
      await keySet.reload();
    };
    // A normal start waits for the link, so the first requests already take the fast path;
    // with Redis down it starts anyway and checks revocations in the database until it is back.
    if (link) await link.whenHealthy(2000);
    return {
      config,
      basePath,
      userAdmin,
      audit: createAuditLog(store),
      clock,
      store,
      keys,
      keySet,
      hasher,
      tokens,
      accounts,
      sessions,
      revocation,
      roles,
      apiKeys,
      rateLimits,
      mail,
      emailFlows,
      factors,
      externalSignIn,
      ...oidcServices,
      redis,
      metrics,
      runMaintenance: createMaintenanceRun({ keys: keySet, roles, keyRotationDays: config.keyRotationDays }),
      close: async () => {
        await emailFlows.settled();
        await mail.stop();
        await redis?.close();
        await store.close();
      },
    };
  } catch (error) {
    await redis?.close();
    await store.close();
    throw error;
  }
}
