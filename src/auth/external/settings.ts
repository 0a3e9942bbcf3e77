/**
 * Settings of external sign-in: Google, GitHub and any OpenID Connect provider. Rows with fixed
 * names join the settings table of config.ts; the generic providers' names
 * (`GATEHOUSE_OIDC_<NAME>_*`) are open-ended and parsed here from the whole environment.
 */

export class ExternalSettingError extends Error {
  override readonly name = 'ExternalSettingError';
}

/** A generic OpenID Connect provider, as a plugin option (`oidcProviders: { keycloak: {…} }`). */
export interface OidcProviderOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes?: readonly string[] | undefined;
  readonly displayName?: string | undefined;
  /** The provider verifies email addresses: its verified address may link to a local account. */
  readonly trustEmail?: boolean | undefined;
}

export interface ExternalSettings {
  /** Several client ids: the first signs browsers in; ID tokens for any of them are accepted. */
  readonly googleClientId: readonly string[];
  readonly googleClientSecret: string | undefined;
  readonly googleIssuer: string;
  readonly githubClientId: string | undefined;
  readonly githubClientSecret: string | undefined;
  readonly githubUrl: string;
  readonly githubApiUrl: string;
  readonly oidcProviders: Readonly<Record<string, OidcProviderOptions>>;
}

type Partial_ = Partial<Record<string, unknown>>;

interface ExternalSetting {
  readonly env: string;
  readonly key: Exclude<keyof ExternalSettings, 'oidcProviders'>;
  readonly description: string;
  readonly defaultText: string;
  readonly parse: (raw: string | undefined, partial: Partial_) => unknown;
}

const optional = (raw: string | undefined) =>
  raw === undefined || raw.trim() === '' ? undefined : raw.trim();

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An issuer or endpoint base: https, or plain http on this machine only (development and tests). */
export function providerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ExternalSettingError('must be an absolute https URL');
  }
  const local = url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !local) {
    throw new ExternalSettingError('must be an https URL (plain http only for localhost or 127.0.0.1)');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ExternalSettingError('must be a URL without query, fragment or credentials');
  }
  return raw.trim();
}

/** Both halves of a client's credentials, or neither: the one missing is named. */
function pairedWith(other: string, otherEnv: string, selfEnv: string) {
  return (raw: string | undefined, partial: Partial_): string | undefined => {
    const value = optional(raw);
    const otherValue = partial[other];
    const otherSet = Array.isArray(otherValue) ? otherValue.length > 0 : otherValue !== undefined;
    if (value === undefined && otherSet)
      throw new ExternalSettingError(`is required when ${otherEnv} is set`);
    if (value !== undefined && !otherSet) {
      throw new ExternalSettingError(`needs ${otherEnv} too (${selfEnv} alone configures nothing)`);
    }
    return value;
  };
}

function clientIdList(raw: string | undefined): readonly string[] {
  const value = optional(raw);
  if (value === undefined) return [];
  const ids = value.split(',').map((id) => id.trim());
  if (ids.some((id) => !/^[\x21-\x7e]{1,256}$/.test(id))) {
    throw new ExternalSettingError('must be client ids separated by commas');
  }
  return ids;
}

export const EXTERNAL_SETTINGS: readonly ExternalSetting[] = [
  {
    env: 'GATEHOUSE_GOOGLE_CLIENT_ID',
    key: 'googleClientId',
    description:
      '"Sign in with Google": the OAuth client id from the Google Cloud console. Several, comma-separated, for native apps: the first signs browsers in, and ID tokens for any of them are accepted by the token-exchange grant.',
    defaultText: '(unset)',
    parse: clientIdList,
  },
  {
    env: 'GATEHOUSE_GOOGLE_CLIENT_SECRET',
    key: 'googleClientSecret',
    description: "The Google client's secret; required with `GATEHOUSE_GOOGLE_CLIENT_ID`.",
    defaultText: '(unset)',
    parse: (raw, partial) => {
      const value = optional(raw);
      const ids = partial.googleClientId as readonly string[] | undefined;
      if (value === undefined && ids !== undefined && ids.length > 0) {
        throw new ExternalSettingError('is required when GATEHOUSE_GOOGLE_CLIENT_ID is set');
      }
      if (value !== undefined && (ids === undefined || ids.length === 0)) {
        throw new ExternalSettingError('needs GATEHOUSE_GOOGLE_CLIENT_ID too');
      }
      return value;
    },
  },
  {
    env: 'GATEHOUSE_GOOGLE_ISSUER',
    key: 'googleIssuer',
    description: "Google's OpenID Connect issuer; change it only to point tests at a stand-in.",
    defaultText: 'https://accounts.google.com',
    parse: (raw) => providerUrl(optional(raw) ?? 'https://accounts.google.com'),
  },
  {
    env: 'GATEHOUSE_GITHUB_CLIENT_ID',
    key: 'githubClientId',
    description: '"Sign in with GitHub": the client id of a GitHub OAuth app.',
    defaultText: '(unset)',
    parse: (raw) => optional(raw),
  },
  {
    env: 'GATEHOUSE_GITHUB_CLIENT_SECRET',
    key: 'githubClientSecret',
    description: "The GitHub OAuth app's client secret; required with `GATEHOUSE_GITHUB_CLIENT_ID`.",
    defaultText: '(unset)',
    parse: pairedWith('githubClientId', 'GATEHOUSE_GITHUB_CLIENT_ID', 'GATEHOUSE_GITHUB_CLIENT_SECRET'),
  },
  {
    env: 'GATEHOUSE_GITHUB_URL',
    key: 'githubUrl',
    description:
      "GitHub's web address (authorize and token endpoints); a GitHub Enterprise Server's address.",
    defaultText: 'https://github.com',
    parse: (raw) => providerUrl(optional(raw) ?? 'https://github.com').replace(/\/+$/, ''),
  },
  {
    env: 'GATEHOUSE_GITHUB_API_URL',
    key: 'githubApiUrl',
    description:
      "GitHub's REST API (user and emails); a GitHub Enterprise Server's is `https://<host>/api/v3`.",
    defaultText: 'https://api.github.com',
    parse: (raw) => providerUrl(optional(raw) ?? 'https://api.github.com').replace(/\/+$/, ''),
  },
];

/** The settings of each generic provider, `GATEHOUSE_OIDC_<NAME>_<SUFFIX>`, for docs/settings.md. */
export const OIDC_PROVIDER_SETTINGS: readonly { suffix: string; option: string; description: string }[] = [
  {
    suffix: 'ISSUER',
    option: 'issuer',
    description:
      'The issuer URL; its discovery document is read from `<issuer>/.well-known/openid-configuration` (https, or http on localhost). Required.',
  },
  {
    suffix: 'CLIENT_ID',
    option: 'clientId',
    description: 'The client id registered with the provider. Required.',
  },
  { suffix: 'CLIENT_SECRET', option: 'clientSecret', description: 'The client secret. Required.' },
  {
    suffix: 'SCOPES',
    option: 'scopes',
    description:
      'Space- or comma-separated scopes; default `openid email profile` (`openid` is always asked).',
  },
  {
    suffix: 'DISPLAY_NAME',
    option: 'displayName',
    description: 'The button text: "Continue with <display name>"; default the name, capitalised.',
  },
  {
    suffix: 'TRUST_EMAIL',
    option: 'trustEmail',
    description:
      '`true`: addresses this provider marks verified are trusted to link to, or claim, a local account with that address. Default `false`.',
  },
];

const OIDC_VARIABLE =
  /^GATEHOUSE_OIDC_([A-Z0-9]+)_(ISSUER|CLIENT_ID|CLIENT_SECRET|SCOPES|DISPLAY_NAME|TRUST_EMAIL)$/;
const RESERVED_NAMES = new Set(['google', 'github']);

export function isOidcProviderVariable(name: string): boolean {
  return OIDC_VARIABLE.test(name);
}

function flag(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ExternalSettingError('must be true or false');
}

/**
 * Every `GATEHOUSE_OIDC_<NAME>_*` provider; each problem (a missing or malformed value) is pushed
 * to `problems` as `<VARIABLE> <what is wrong>`.
 */
export function parseOidcProviders(
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): Record<string, OidcProviderOptions> {
  const byName = new Map<string, Map<string, string>>();
  for (const [variable, raw] of Object.entries(env)) {
    const match = OIDC_VARIABLE.exec(variable);
    if (!match?.[1] || !match[2] || optional(raw) === undefined) continue;
    const fields = byName.get(match[1]) ?? new Map<string, string>();
    fields.set(match[2], (raw as string).trim());
    byName.set(match[1], fields);
  }
  const providers: Record<string, OidcProviderOptions> = {};
  for (const [upper, fields] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    const prefix = `GATEHOUSE_OIDC_${upper}_`;
    const name = upper.toLowerCase();
    if (RESERVED_NAMES.has(name)) {
      problems.push(`${prefix}ISSUER names a built-in provider: use GATEHOUSE_${upper}_CLIENT_ID instead`);
      continue;
    }
    const missing = ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET'].filter((suffix) => !fields.has(suffix));
    for (const suffix of missing)
      problems.push(`${prefix}${suffix} is required to configure provider "${name}"`);
    const attempt = <T>(suffix: string, parse: (raw: string) => T): T | undefined => {
      const raw = fields.get(suffix);
      if (raw === undefined) return undefined;
      try {
        return parse(raw);
      } catch (error) {
        if (!(error instanceof ExternalSettingError)) throw error;
        problems.push(`${prefix}${suffix} ${error.message}`);
        return undefined;
      }
    };
    const issuer = attempt('ISSUER', providerUrl);
    const scopes = attempt('SCOPES', (raw) => raw.split(/[\s,]+/).filter(Boolean));
    const displayName = attempt('DISPLAY_NAME', (raw) => {
      if (raw.length > 40 || /\p{Cc}/u.test(raw))
        throw new ExternalSettingError('must be at most 40 characters');
      return raw;
    });
    const trustEmail = attempt('TRUST_EMAIL', flag);
    const clientId = fields.get('CLIENT_ID');
    const clientSecret = fields.get('CLIENT_SECRET');
    if (issuer === undefined || clientId === undefined || clientSecret === undefined) continue;
    providers[name] = { issuer, clientId, clientSecret, scopes, displayName, trustEmail };
  }
  return providers;
}

/** Plugin options → the environment names `parseOidcProviders` reads. */
export function oidcProvidersToEnv(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('gatehouse: option "oidcProviders" must be an object of providers by name');
  }
  const env: Record<string, string> = {};
  for (const [name, provider] of Object.entries(value as Record<string, OidcProviderOptions>)) {
    if (!/^[a-z0-9]+$/i.test(name)) {
      throw new TypeError(`gatehouse: option "oidcProviders": "${name}" must be letters and digits only`);
    }
    const prefix = `GATEHOUSE_OIDC_${name.toUpperCase()}_`;
    for (const { suffix, option } of OIDC_PROVIDER_SETTINGS) {
      const field = (provider as unknown as Record<string, unknown>)[option];
      if (field === undefined) continue;
      env[`${prefix}${suffix}`] = Array.isArray(field) ? field.join(' ') : String(field);
    }
  }
  return env;
}

/** The rows of docs/settings.md for generic providers. */
export function oidcSettingsDoc(): string {
  const rows = OIDC_PROVIDER_SETTINGS.map(
    (s) =>
      `| \`GATEHOUSE_OIDC_<NAME>_${s.suffix}\` | \`${s.option}\` | ${s.description.replaceAll('|', '\\|')} |`,
  );
  return [
    '## Generic OpenID Connect providers',
    '',
    'Each provider is a group of variables named after it, `<NAME>` in capital letters and digits',
    '(`GATEHOUSE_OIDC_KEYCLOAK_ISSUER`…); its routes use the name in lower case (`/oauth/keycloak/callback`).',
    'In the plugin: `oidcProviders: { keycloak: { issuer, clientId, clientSecret } }`.',
    '',
    '| Variable | Plugin option | Meaning |',
    '| -------- | ------------- | ------- |',
    ...rows,
    '',
  ].join('\n');
}
