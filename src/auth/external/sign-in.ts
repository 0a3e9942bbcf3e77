/**
 * External sign-in (docs/external-sign-in.md): the browser redirect flow (RFC 9700: state, PKCE
 * S256, nonce, RFC 9207 `iss`), the token-exchange grant for apps that signed in with the
 * provider's own SDK (RFC 8693), and the user's connected accounts.
 */
import { errors as joseErrors } from 'jose';
import * as oidc from 'openid-client';
import type { Clock } from '../../clock.ts';
import type { Store } from '../../store/db.ts';
import {
  type ExternalFlowRecord,
  findExternalFlow,
  insertExternalFlow,
  rememberUsedIdToken,
  takeExternalFlow,
} from '../../store/external-flows.ts';
import { findIdentity, setIdentityTokens } from '../../store/identities.ts';
import type { AccountService } from '../accounts.ts';
import { createSecretBox } from '../encryption.ts';
import {
  ExternalSignInError,
  GatehouseError,
  InvalidSubjectTokenError,
  MfaEnrollmentRequiredError,
  MfaRequiredError,
  UnknownProviderError,
  UserNotFoundError,
} from '../errors.ts';
import type { RequestContext } from '../request-context.ts';
import type { RevocationState } from '../revocation.ts';
import { constantTimeEqual, hashSecret, randomSecret } from '../secrets.ts';
import type { CookieLogin, SessionService, TokenPair } from '../sessions.ts';
import { createConnectedAccounts } from './connected-accounts.ts';
import { createLinking } from './linking.ts';
import { type ExternalProfile, githubProfile, profileFromIdToken } from './profile.ts';
import { createProviderRegistry, type ExternalProvider, type ExternalSettings } from './providers.ts';
import { createTokenVault, type ProviderTokens } from './token-vault.ts';

/** An error and what caused it, for the log (openid-client wraps the specific reason). */
function describe(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  return cause instanceof Error ? `${String(error)} (${cause.message})` : String(error);
}

/** How long a browser has to come back from the provider (and the state cookie's lifetime). */
export const FLOW_TTL_SECONDS = 600;
const MAX_ID_TOKEN_LENGTH = 16_384;

export interface ProviderSummary {
  readonly name: string;
  readonly displayName: string;
}

export interface IdentityView {
  readonly id: string;
  readonly provider: string;
  readonly displayName: string;
  readonly email: string | null;
  readonly emailVerified: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number;
}

export type FinishOutcome =
  | { readonly kind: 'signed-in'; readonly login: CookieLogin; readonly returnTo: string | undefined }
  | { readonly kind: 'linked'; readonly userId: string; readonly provider: string }
  /** The account has a second factor, or must set one up: the browser goes on to that step. */
  | { readonly kind: 'second-step'; readonly challenge: SecondStep; readonly returnTo: string | undefined }
  | { readonly kind: 'failed'; readonly error: GatehouseError; readonly linking: boolean };

type SecondStep = MfaRequiredError | MfaEnrollmentRequiredError;
export interface ExternalSignInService {
  /** The configured providers, in button order. */
  providers(): readonly ProviderSummary[];
  /**
   * Starts the browser flow: the provider's authorization URL, and the handle the browser keeps
   * in its state cookie. With `linkUserId`, the identity is linked to that (signed-in) user.
   */
  start(
    provider: string,
    options: { readonly returnTo?: string | undefined; readonly linkUserId?: string | undefined },
  ): Promise<{ handle: string; authorizationUrl: string }>;
  /**
   * The provider's authorization URL of this browser's flow, again (for a page that sends the
   * browser on after a form post); undefined when the flow is gone.
   */
  authorizationUrlOf(provider: string, handle: string | undefined): Promise<string | undefined>;
  /** The callback: spends the flow, checks the provider's answer, signs in or links. */
  finish(
    provider: string,
    handle: string | undefined,
    query: URLSearchParams,
    ctx: RequestContext,
  ): Promise<FinishOutcome>;
  /** RFC 8693: a provider's ID token (from its own SDK) for Gatehouse's tokens; each ID token once. */
  exchangeIdToken(
    provider: string,
    idToken: string,
    /** The request's space-separated `scope`; absent: everything the user may hold. */
    requestedScope: string | undefined,
    clientId: string | undefined,
    ctx: RequestContext,
  ): Promise<TokenPair>;
  listIdentities(userId: string): Promise<IdentityView[]>;
  /**
   * The provider's tokens from the user's last browser sign-in or link there, with
   * GATEHOUSE_OAUTH_STORE_TOKENS=true (for calling the provider's API); never served over HTTP.
   */
  providerTokens(userId: string, provider: string): Promise<ProviderTokens | undefined>;
  /** LastSignInMethodError when the account would keep no way to sign in. */
  unlink(userId: string, identityId: string, ctx: RequestContext): Promise<void>;
}

export function createExternalSignIn(deps: {
  store: Store;
  accounts: AccountService;
  sessions: SessionService;
  revocation: RevocationState;
  clock: Clock;
  settings: ExternalSettings;
  /** Counts a finished external sign-in: no error, or the refusal. */
  countLogin?: (error: unknown) => void;
  options: {
    /** The public URL with the plugin's prefix: callbacks are `<this>/oauth/<provider>/callback`. */
    readonly baseUrl: string;
    readonly registrationOpen: boolean;
    readonly requireVerifiedEmail: boolean;
  };
}): ExternalSignInService {
  const { store, accounts, sessions, clock, options } = deps;
  const db = store.db;
  const registry = createProviderRegistry(deps.settings);
  const linking = createLinking({ ...deps, ...options });
  const vault =
    deps.settings.oauthStoreTokens && deps.settings.encryptionKeys.length > 0
      ? createTokenVault(createSecretBox(deps.settings.encryptionKeys))
      : undefined;

  /** Keeps the provider's tokens on the identity, when configured to. */
  async function storeTokens(profile: ExternalProfile, tokens: ProviderTokens): Promise<void> {
    if (vault === undefined) return;
    const identity = await findIdentity(db, profile.provider, profile.subject);
    if (identity !== undefined) await setIdentityTokens(db, identity.id, vault.seal(identity.id, tokens));
  }

  const callbackUrl = (name: string) => `${options.baseUrl}/oauth/${name}/callback`;
  const displayName = (name: string) => registry.get(name)?.displayName ?? name;

  function providerOrThrow(name: string): ExternalProvider {
    const provider = registry.get(name);
    if (provider === undefined) throw new UnknownProviderError();
    return provider;
  }

  async function configurationOf(provider: ExternalProvider): Promise<oidc.Configuration> {
    try {
      return await provider.configuration();
    } catch (error) {
      throw new ExternalSignInError(`discovery failed: ${String(error)}`, undefined, { cause: error });
    }
  }

  /** The provider's answer, checked: the person it names. */
  async function profileFrom(
    provider: ExternalProvider,
    flow: { state: string; codeVerifier: string; nonce: string | null },
    query: URLSearchParams,
  ): Promise<{ profile: ExternalProfile; tokens: ProviderTokens }> {
    const config = await configurationOf(provider);
    const currentUrl = new URL(callbackUrl(provider.name));
    for (const [key, value] of query) currentUrl.searchParams.append(key, value);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        ...(flow.nonce !== null ? { expectedNonce: flow.nonce } : {}),
        idTokenExpected: provider.kind === 'oidc',
      });
    } catch (error) {
      throw new ExternalSignInError(`code exchange refused: ${describe(error)}`, undefined, { cause: error });
    }
    const kept: ProviderTokens = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? null,
      expiresAt: tokens.expires_in === undefined ? null : clock.now() + tokens.expires_in * 1000,
      scope: tokens.scope ?? null,
    };
    if (provider.kind === 'github') {
      return { profile: await githubProfile(provider, tokens.access_token), tokens: kept };
    }
    const idToken = tokens.id_token;
    if (idToken === undefined) throw new ExternalSignInError('no ID token');
    const claims = await verifiedIdToken(provider, idToken);
    if (flow.nonce === null || !constantTimeEqual(claims.nonce, flow.nonce)) {
      throw new ExternalSignInError('nonce mismatch');
    }
    return { profile: profileFromIdToken(provider.name, claims), tokens: kept };
  }

  async function verifiedIdToken(provider: ExternalProvider, token: string) {
    try {
      return await provider.verifyIdToken(token, clock.now());
    } catch (error) {
      if (error instanceof joseErrors.JOSEError)
        throw new ExternalSignInError(`ID token refused: ${error.code}`);
      throw new ExternalSignInError(`ID token not checked: ${String(error)}`, undefined, { cause: error });
    }
  }

  async function authorizationUrl(provider: ExternalProvider, flow: ExternalFlowRecord): Promise<string> {
    const config = await configurationOf(provider);
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: callbackUrl(provider.name),
      scope: provider.scopes.join(' '),
      state: flow.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
      ...(flow.nonce !== null ? { nonce: flow.nonce } : {}),
    }).href;
  }

  function counted<T>(work: Promise<T>): Promise<T> {
    return work.then(
      (value) => {
        deps.countLogin?.(undefined);
        return value;
      },
      (error: unknown) => {
        deps.countLogin?.(error);
        throw error;
      },
    );
  }

  return {
    providers: () => [...registry.values()].map((p) => ({ name: p.name, displayName: p.displayName })),

    async start(name, { returnTo, linkUserId }) {
      const provider = providerOrThrow(name);
      await configurationOf(provider);
      const handle = randomSecret();
      const state = oidc.randomState();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const nonce = provider.kind === 'oidc' ? oidc.randomNonce() : null;
      const now = clock.now();
      const flow: ExternalFlowRecord = {
        handleHash: hashSecret(handle),
        provider: name,
        state,
        codeVerifier,
        nonce,
        returnTo: returnTo ?? null,
        linkUserId: linkUserId ?? null,
        createdAt: now,
        expiresAt: now + FLOW_TTL_SECONDS * 1000,
      };
      await insertExternalFlow(db, flow);
      return { handle, authorizationUrl: await authorizationUrl(provider, flow) };
    },

    async authorizationUrlOf(name, handle) {
      const provider = providerOrThrow(name);
      if (handle === undefined) return undefined;
      const flow = await findExternalFlow(db, hashSecret(handle), clock.now());
      return flow?.provider === name ? authorizationUrl(provider, flow) : undefined;
    },

    async finish(name, handle, query, ctx) {
      const provider = providerOrThrow(name);
      const flow =
        handle === undefined ? undefined : await takeExternalFlow(db, hashSecret(handle), clock.now());
      const linking_ = flow?.linkUserId != null;
      try {
        if (flow === undefined)
          throw new ExternalSignInError('no flow for this browser (missing, spent or expired)');
        if (flow.provider !== name) throw new ExternalSignInError('flow started for another provider');
        if (!constantTimeEqual(query.get('state'), flow.state))
          throw new ExternalSignInError('state mismatch');
        const providerError = query.get('error');
        if (providerError !== null) {
          throw new ExternalSignInError(
            'the provider refused',
            /^[a-z_]{1,64}$/.test(providerError) ? providerError : 'error',
          );
        }
        const { profile, tokens } = await profileFrom(provider, flow, query);
        if (flow.linkUserId !== null) {
          const user = await accounts.findUser(flow.linkUserId);
          if (user === undefined || user.disabled) throw new UserNotFoundError();
          await linking.linkToUser(user.id, profile, ctx);
          await storeTokens(profile, tokens);
          return { kind: 'linked', userId: user.id, provider: name };
        }
        const login = await counted(
          (async () => {
            const user = await linking.resolveSignIn(profile, provider.trustEmail, ctx);
            await storeTokens(profile, tokens);
            return sessions.startCookieSession(user, ctx, 'external', undefined, { provider: name });
          })(),
        );
        return { kind: 'signed-in', login, returnTo: flow.returnTo ?? undefined };
      } catch (error) {
        if (error instanceof MfaRequiredError || error instanceof MfaEnrollmentRequiredError)
          return { kind: 'second-step', challenge: error, returnTo: flow?.returnTo ?? undefined };
        if (error instanceof GatehouseError && error.code !== 'DATABASE_UNAVAILABLE') {
          return { kind: 'failed', error, linking: linking_ };
        }
        throw error;
      }
    },

    async exchangeIdToken(name, idToken, requestedScope, clientId, ctx) {
      const provider = registry.get(name);
      if (provider?.kind !== 'oidc')
        throw new InvalidSubjectTokenError(`no OpenID Connect provider "${name}"`);
      if (idToken.length > MAX_ID_TOKEN_LENGTH) throw new InvalidSubjectTokenError('too long');
      let claims: Awaited<ReturnType<ExternalProvider['verifyIdToken']>>;
      try {
        claims = await provider.verifyIdToken(idToken, clock.now());
      } catch (error) {
        if (error instanceof joseErrors.JOSEError) throw new InvalidSubjectTokenError(error.code);
        throw new ExternalSignInError(`ID token not checked: ${String(error)}`, undefined, { cause: error });
      }
      const now = clock.now();
      const key = `${name}:${typeof claims.jti === 'string' ? `jti:${claims.jti}` : hashSecret(idToken)}`;
      const expiresAt = ((claims.exp as number) + 60) * 1000;
      if (!(await rememberUsedIdToken(db, key, expiresAt, now, store.isUniqueViolation))) {
        throw new InvalidSubjectTokenError('ID token used before');
      }
      const profile = profileFromIdToken(name, claims);
      return counted(
        (async () => {
          const user = await linking.resolveSignIn(profile, provider.trustEmail, ctx);
          return sessions.startTokenSession(
            user,
            sessions.grantScope(user, requestedScope),
            clientId,
            ctx,
            'external',
            undefined,
            { provider: name },
          );
        })(),
      );
    },

    ...createConnectedAccounts({ store, clock, vault, displayName }),
  };
}
