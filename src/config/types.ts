/**
 * The typed configuration every part of Gatehouse receives. Each key has one row in the settings
 * table (src/config/settings.ts), which the compiler holds to this type.
 */
export type JwtAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** `GATEHOUSE_MFA`: who must have a second factor. */
export type MfaPolicy = 'optional' | 'required_for_admins' | 'required';

export interface Config {
  /** How long a client's previous secret keeps working after a rotation (0: not at all). */
  readonly clientSecretOverlapSeconds: number;
  readonly mfa: MfaPolicy;
  /** AES-256-GCM keys for secrets stored at rest; the first encrypts. Empty: none configured. */
  readonly encryptionKeys: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly databasePoolMax: number;
  readonly databaseStatementTimeoutSeconds: number;
  readonly databaseConnectTimeoutSeconds: number;
  readonly sqliteSynchronous: 'normal' | 'full';
  readonly issuer: string;
  readonly audience: string;
  readonly publicUrl: string;
  readonly appName: string;
  readonly pages: boolean;
  readonly jwtAlg: JwtAlgorithm;
  readonly jwtSecret: string | undefined;
  readonly accessTokenTtlSeconds: number;
  readonly passwordMinLength: number;
  readonly registration: 'open' | 'closed';
  readonly argon2MemoryKib: number;
  readonly argon2Iterations: number;
  readonly argon2Parallelism: number;
  readonly hashConcurrency: number;
  readonly hashQueueMax: number;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly trustProxy: readonly string[];
  readonly rateLimitToken: RateLimit | null;
  readonly rateLimitLogin: RateLimit | null;
  readonly rateLimitRegister: RateLimit | null;
  readonly rateLimitBasic: RateLimit | null;
  readonly loginMaxFailures: number | null;
  readonly loginAccountMaxFailures: number | null;
  readonly rateLimitMail: RateLimit | null;
  readonly rateLimitMailAddress: RateLimit | null;
  readonly rateLimitIpv6Prefix: number;
  readonly rateLimitMailAddressIp: RateLimit | null;
  readonly adminUsername: string | undefined;
  readonly adminEmail: string | undefined;
  readonly adminPassword: string | undefined;
  readonly corsOrigins: readonly string[];
  readonly logLevel: LogLevel;
  readonly logFile: string | undefined;
  readonly logFormat: 'pretty' | 'json' | 'auto';
  readonly metrics: 'on' | 'off';
  readonly metricsToken: string | undefined;
  readonly jwksMaxAgeSeconds: number;
  readonly tokenCacheSize: number;
  readonly userCacheSize: number;
  readonly sessionTtlSeconds: number;
  readonly sessionIdleTtlSeconds: number;
  readonly reauthMaxAgeSeconds: number;
  readonly refreshReuseGraceSeconds: number;
  readonly keyRotationDays: number;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  readonly outboxDir: string;
  readonly mailTemplatesDir: string | undefined;
  readonly requireVerifiedEmail: boolean;
  readonly verifyTokenTtlSeconds: number;
  readonly resetTokenTtlSeconds: number;
  readonly magicLinkTtlSeconds: number;
  readonly magicLinkSignup: boolean;
  readonly apiKeyTtlSeconds: number;
  /** Null: keys may be created without expiry. */
  readonly apiKeyMaxTtlSeconds: number | null;
  /** Several client ids: the first signs browsers in; ID tokens for any of them are accepted. */
  readonly googleClientId: readonly string[];
  readonly googleClientSecret: string | undefined;
  readonly googleIssuer: string;
  readonly githubClientId: string | undefined;
  readonly githubClientSecret: string | undefined;
  readonly githubUrl: string;
  readonly githubApiUrl: string;
  /** Generic OpenID Connect providers by name (lower case). */
  readonly oidcProviders: Readonly<Record<string, OidcProviderOptions>>;
  /** Keep providers' access and refresh tokens, encrypted with `encryptionKeys`. */
  readonly oauthStoreTokens: boolean;
}

/** A generic OpenID Connect provider, as a plugin option (`oidcProviders: { keycloak: {…} }`). */
export interface OidcProviderOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes?: readonly string[] | undefined;
  readonly displayName?: string | undefined;
  /** The provider verifies addresses: its verified address may link to, or claim, a local account. */
  readonly trustEmail?: boolean | undefined;
}

/** At most `points` requests per `durationSeconds` from one client IP. */
export interface RateLimit {
  readonly points: number;
  readonly durationSeconds: number;
}

/** Options for the embedded plugin: the settings by their Config names (`databaseUrl`, `issuer`, …). */
export type GatehouseOptions = { readonly [K in keyof Config]?: Config[K] | undefined };
