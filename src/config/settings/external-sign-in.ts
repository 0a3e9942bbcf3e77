/**
 * Settings: signing in with Google, GitHub and any OpenID Connect provider (docs/external-sign-in.md).
 * A provider's settings come complete or not at all: the one missing is named. Issuers are https,
 * except on this machine (development and tests).
 */
import { displayName, flag, httpUrl, list, SettingError, text, visibleAscii } from '../parsers.ts';
import { type Environment, type Setting, type Settled, setting } from '../setting.ts';
import type { OidcProviderOptions } from '../types.ts';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An issuer or endpoint base: https, or plain http on localhost only. */
export function providerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new SettingError('must be an absolute https URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname))) {
    throw new SettingError('must be an https URL (plain http only for localhost or 127.0.0.1)');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new SettingError('must be a URL without query, fragment or credentials');
  }
  return raw.trim();
}

const baseUrl = (raw: string) => httpUrl(providerUrl(raw));

const clientId = visibleAscii(1, 256, 'must be client ids separated by commas');

/** The secret of a client whose id is set, and only then. */
function pairedSecret(idKey: 'googleClientId' | 'githubClientId', idEnv: string) {
  return (value: string | undefined, settled: Settled): void => {
    const id = settled[idKey];
    const idSet = Array.isArray(id) ? id.length > 0 : id !== undefined;
    if (value === undefined && idSet) throw new SettingError(`is required when ${idEnv} is set`);
    if (value !== undefined && !idSet) throw new SettingError(`needs ${idEnv} too`);
  };
}

/** `GATEHOUSE_OIDC_<NAME>_<SUFFIX>`: each suffix with its plugin option and how it is read. */
const OIDC_FIELDS = {
  ISSUER: { option: 'issuer', parse: providerUrl },
  CLIENT_ID: { option: 'clientId', parse: (raw: string) => raw.trim() },
  CLIENT_SECRET: { option: 'clientSecret', parse: (raw: string) => raw },
  SCOPES: { option: 'scopes', parse: (raw: string) => raw.split(/[\s,]+/).filter(Boolean) },
  DISPLAY_NAME: { option: 'displayName', parse: displayName(40) },
  TRUST_EMAIL: { option: 'trustEmail', parse: flag.parse },
} as const;
type OidcSuffix = keyof typeof OIDC_FIELDS;
const REQUIRED: readonly OidcSuffix[] = ['ISSUER', 'CLIENT_ID', 'CLIENT_SECRET'];
const OIDC_VARIABLE =
  /^GATEHOUSE_OIDC_([A-Z0-9]+)_(ISSUER|CLIENT_ID|CLIENT_SECRET|SCOPES|DISPLAY_NAME|TRUST_EMAIL)$/;

/**
 * The providers from their raw fields by name; every problem is collected, each named by `label`
 * (a variable, or the option's path), and thrown together.
 */
function oidcProviders(
  byName: ReadonlyMap<string, ReadonlyMap<OidcSuffix, string>>,
  problem: (name: string, suffix: OidcSuffix, message: string) => SettingError,
): Record<string, OidcProviderOptions> {
  const problems: SettingError[] = [];
  const providers: Record<string, OidcProviderOptions> = {};
  for (const [name, fields] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    if (name === 'google' || name === 'github') {
      problems.push(problem(name, 'ISSUER', 'names a built-in provider: use its own settings'));
      continue;
    }
    const values: Record<string, unknown> = {};
    for (const suffix of REQUIRED) {
      if (!fields.has(suffix))
        problems.push(problem(name, suffix, `is required to configure provider "${name}"`));
    }
    for (const [suffix, raw] of fields) {
      try {
        values[OIDC_FIELDS[suffix].option] = OIDC_FIELDS[suffix].parse(raw);
      } catch (error) {
        if (!(error instanceof SettingError)) throw error;
        problems.push(problem(name, suffix, error.message));
      }
    }
    providers[name] = values as unknown as OidcProviderOptions;
  }
  if (problems.length > 0) throw new AggregateError(problems);
  return providers;
}

const OIDC_PROVIDERS: Setting<'oidcProviders'> = {
  key: 'oidcProviders',
  env: 'GATEHOUSE_OIDC_<NAME>_*',
  description:
    'A generic OpenID Connect provider, named by `<NAME>` (capital letters and digits; its routes use it in lower case, `/oauth/<name>/callback`): `_ISSUER` (discovered at `<issuer>/.well-known/openid-configuration`), `_CLIENT_ID` and `_CLIENT_SECRET` (all three required), optional `_SCOPES` (default `openid email profile`), `_DISPLAY_NAME` (the button\'s "Continue with …") and `_TRUST_EMAIL=true` (its verified addresses may link to, or claim, a local account; default false). Plugin: `oidcProviders: { keycloak: { issuer, clientId, clientSecret, scopes, displayName, trustEmail } }`.',
  defaultText: '(unset)',
  reads: (name) => OIDC_VARIABLE.test(name),
  fromEnv: (env: Environment) => {
    const byName = new Map<string, Map<OidcSuffix, string>>();
    for (const [variable, raw] of Object.entries(env)) {
      const match = OIDC_VARIABLE.exec(variable);
      if (!match?.[1] || raw === undefined || raw.trim() === '') continue;
      const name = match[1].toLowerCase();
      const fields = byName.get(name) ?? new Map<OidcSuffix, string>();
      fields.set(match[2] as OidcSuffix, raw);
      byName.set(name, fields);
    }
    return oidcProviders(
      byName,
      (name, suffix, message) => new SettingError(message, `GATEHOUSE_OIDC_${name.toUpperCase()}_${suffix}`),
    );
  },
  fromOption: (value) => {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new SettingError('must be an object of providers by name');
    }
    const byName = new Map<string, Map<OidcSuffix, string>>();
    for (const [name, provider] of Object.entries(value)) {
      if (!/^[a-z0-9]{1,40}$/.test(name))
        throw new SettingError(`"${name}" must be lower-case letters and digits`);
      const fields = new Map<OidcSuffix, string>();
      for (const suffix of Object.keys(OIDC_FIELDS) as OidcSuffix[]) {
        const field = (provider as Record<string, unknown> | null)?.[OIDC_FIELDS[suffix].option];
        if (field !== undefined) fields.set(suffix, Array.isArray(field) ? field.join(' ') : String(field));
      }
      byName.set(name, fields);
    }
    return oidcProviders(
      byName,
      (name, suffix, message) => new SettingError(`${name}.${OIDC_FIELDS[suffix].option} ${message}`),
    );
  },
};

export const EXTERNAL_SIGN_IN_SETTINGS = [
  setting({
    env: 'GATEHOUSE_GOOGLE_CLIENT_ID',
    key: 'googleClientId',
    description:
      '"Sign in with Google": the OAuth client id from the Google Cloud console. Several, comma-separated, for native apps: the first signs browsers in, and ID tokens for any of them are accepted by the token-exchange grant.',
    defaultText: '(unset)',
    type: list(clientId),
    default: () => [],
  }),
  setting({
    env: 'GATEHOUSE_GOOGLE_CLIENT_SECRET',
    key: 'googleClientSecret',
    description: "The Google client's secret; required with `GATEHOUSE_GOOGLE_CLIENT_ID`.",
    defaultText: '(unset)',
    type: text(),
    default: () => undefined,
    check: pairedSecret('googleClientId', 'GATEHOUSE_GOOGLE_CLIENT_ID'),
  }),
  setting({
    env: 'GATEHOUSE_GOOGLE_ISSUER',
    key: 'googleIssuer',
    description: "Google's OpenID Connect issuer; change it only to point tests at a stand-in.",
    defaultText: 'https://accounts.google.com',
    type: text(providerUrl),
  }),
  setting({
    env: 'GATEHOUSE_GITHUB_CLIENT_ID',
    key: 'githubClientId',
    description: '"Sign in with GitHub": the client id of a GitHub OAuth app.',
    defaultText: '(unset)',
    type: text((value) => value.trim()),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_GITHUB_CLIENT_SECRET',
    key: 'githubClientSecret',
    description: "The GitHub OAuth app's client secret; required with `GATEHOUSE_GITHUB_CLIENT_ID`.",
    defaultText: '(unset)',
    type: text(),
    default: () => undefined,
    check: pairedSecret('githubClientId', 'GATEHOUSE_GITHUB_CLIENT_ID'),
  }),
  setting({
    env: 'GATEHOUSE_GITHUB_URL',
    key: 'githubUrl',
    description:
      "GitHub's web address (authorize and token endpoints); a GitHub Enterprise Server's address.",
    defaultText: 'https://github.com',
    type: text(baseUrl),
  }),
  setting({
    env: 'GATEHOUSE_GITHUB_API_URL',
    key: 'githubApiUrl',
    description:
      "GitHub's REST API (user and emails); a GitHub Enterprise Server's is `https://<host>/api/v3`.",
    defaultText: 'https://api.github.com',
    type: text(baseUrl),
  }),
  OIDC_PROVIDERS,
  setting({
    env: 'GATEHOUSE_OAUTH_STORE_TOKENS',
    key: 'oauthStoreTokens',
    description:
      "`true` keeps each provider's access and refresh tokens from the last browser sign-in, encrypted with `GATEHOUSE_ENCRYPTION_KEY`, for an app that calls the provider's API later (`gatehouse.externalSignIn.providerTokens()`; never over HTTP). `false`: they are not stored.",
    defaultText: 'false',
    type: flag,
    check: (value, settled) => {
      // Only when the key setting itself was read (a bad key is reported on its own).
      if (value === true && settled.encryptionKeys?.length === 0) {
        throw new SettingError('needs GATEHOUSE_ENCRYPTION_KEY to encrypt the tokens it keeps');
      }
    },
  }),
];
