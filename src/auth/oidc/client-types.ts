/**
 * What the OpenID Provider knows of a registered client (the `clients` registry). Field names
 * follow RFC 7591 (Dynamic Client Registration) metadata in their camel-case form; the registry
 * (auth/oidc/clients.ts) stores and manages them, the provider (authorize, token, userinfo,
 * logout) only reads them through `ClientDirectory`.
 */

export type ClientType = 'confidential' | 'public';

export type TokenEndpointAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'none';

export type ClientGrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

export interface RegisteredClient {
  readonly clientId: string;
  readonly clientName: string;
  /** `public` exactly when `tokenEndpointAuthMethod` is `none`. */
  readonly type: ClientType;
  /** Exact match, except loopback `http://localhost`/`127.0.0.1`/`[::1]` URIs match any port (RFC 8252 §7.3). */
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly grantTypes: readonly ClientGrantType[];
  /** The scopes the client may ask for (`openid profile email offline_access` and permissions). */
  readonly scopes: readonly string[];
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** `private_key_jwt`: the client's public keys, inline or by URL. */
  readonly jwks: { readonly keys: readonly Record<string, unknown>[] } | undefined;
  readonly jwksUri: string | undefined;
  /** `RS256` unless the client registered another (`EdDSA`, `ES256`). */
  readonly idTokenSignedResponseAlg: string;
  readonly backchannelLogoutUri: string | undefined;
  /** First-party clients: no consent screen. */
  readonly skipConsent: boolean;
  /** The `aud` of access tokens issued to this client; the server's audience when unset. */
  readonly audience: string | undefined;
  /** RFC 9126: the client must push its authorization requests to `/par`. */
  readonly requirePushedAuthorizationRequests: boolean;
  readonly createdAt: number;
}

/** Credentials a client presented at the token, introspection or revocation endpoint. */
export interface PresentedClientCredentials {
  /** The `Authorization` header, if any (`Basic …` for client_secret_basic). */
  readonly authorization: string | undefined;
  /** Form fields: `client_id`, `client_secret`, `client_assertion_type`, `client_assertion`. */
  readonly clientId: string | undefined;
  readonly clientSecret: string | undefined;
  readonly clientAssertionType: string | undefined;
  readonly clientAssertion: string | undefined;
}

export interface ClientDirectory {
  /** The client, or undefined when no such client is registered. */
  find(clientId: string): Promise<RegisteredClient | undefined>;
  /**
   * Checks the client's credentials by its registered method (RFC 6749 §2.3, RFC 7523 for
   * `private_key_jwt`, whose assertion's `aud` must be `endpointUrl` or the issuer); a public
   * client presents only its `client_id`. Throws InvalidClientError (`invalid_client`) otherwise.
   */
  authenticate(presented: PresentedClientCredentials, endpointUrl: string): Promise<RegisteredClient>;
}
