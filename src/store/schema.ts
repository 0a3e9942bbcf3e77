/** Row types as stored. Times are epoch milliseconds; booleans are 0/1 on both databases. */
export interface UsersTable {
  id: string;
  username: string;
  username_normalized: string;
  email: string;
  email_normalized: string;
  full_name: string | null;
  /** Null: no password (the account signs in by links until its owner sets one by reset). */
  password_hash: string | null;
  disabled: number;
  created_at: number;
  updated_at: number;
  email_verified_at: number | null;
}

export interface RolesTable {
  name: string;
  description: string;
  builtin: number;
}

export interface UserRolesTable {
  user_id: string;
  role_name: string;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  private_jwk: string;
  public_jwk: string;
  state: 'active' | 'retired';
  created_at: number;
  retired_at: number | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  kind: 'token' | 'cookie';
  secret_hash: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  /** When the user last proved a credential in this session (ms); null only before the migration ran. */
  auth_time: number | null;
  /** RFC 8176 methods the session was proven with, space-separated; null before the factors migration. */
  amr: string | null;
  /** The external provider a session was signed in with; null for every other sign-in. */
  external_provider: string | null;
  /** Token sessions of an OpenID Provider client: the client; null for Gatehouse's own sessions. */
  client_id: string | null;
  /** The browser (cookie) session a client's token session came from: the ID token's `sid`. */
  parent_session_id: string | null;
  /** The `aud` of a client session's access tokens; null: the server's audience. */
  audience: string | null;
}

export interface RefreshTokensTable {
  id: string;
  session_id: string;
  secret_hash: string;
  scope: string;
  client_id: string;
  created_at: number;
  spent_at: number | null;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  event: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string;
  actor_id: string | null;
  target: string | null;
}

export interface RolePermissionsTable {
  role_name: string;
  permission: string;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  secret_hash: string;
  scopes: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface MailOutboxTable {
  id: string;
  to: string;
  subject: string;
  /** Emptied once the message is sent or given up: the bodies carry one-time links. */
  text: string;
  html: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  next_attempt_at: number;
  /** The transport's error, never a message body or token. */
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

export type EmailTokenPurpose = 'verify' | 'reset' | 'magic' | 'email_change';

export interface EmailTokensTable {
  /** SHA-256 of the token; the token itself exists only in the mail. */
  token_hash: string;
  purpose: EmailTokenPurpose;
  user_id: string | null;
  /** The address the link was sent to; for an email change, the old address. */
  email: string;
  new_email: string | null;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export type FactorType = 'totp' | 'webauthn';

export interface FactorsTable {
  id: string;
  user_id: string;
  type: FactorType;
  name: string;
  /** TOTP: the shared secret, AES-256-GCM encrypted (auth/encryption.ts); never in clear. */
  secret: string | null;
  /** TOTP: the time step of the last accepted code; a code of that step or earlier is a replay. */
  last_step: number | null;
  /** WebAuthn: the credential id (base64url), its COSE public key (base64url) and counter. */
  credential_id: string | null;
  public_key: string | null;
  sign_count: number;
  transports: string | null;
  aaguid: string | null;
  backed_up: number;
  created_at: number;
  /** Null: a TOTP factor enrolled but not yet confirmed with a code (not a second factor yet). */
  confirmed_at: number | null;
  last_used_at: number | null;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  /** SHA-256 of the normalised code; the code exists only in the answer that showed it. */
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export type MfaChallengePurpose =
  | 'mfa'
  | 'enrollment'
  | 'webauthn_register'
  | 'webauthn_login'
  | 'webauthn_reauth';

export interface MfaChallengesTable {
  id: string;
  purpose: MfaChallengePurpose;
  user_id: string | null;
  /** `mfa` and `enrollment` tokens: SHA-256 of the token's secret. */
  secret_hash: string | null;
  /** WebAuthn: the challenge (base64url) the ceremony must sign. */
  challenge: string | null;
  /** JSON: what the first step bound the token to (session kind, method, scope, client). */
  details: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface IdentitiesTable {
  id: string;
  provider: string;
  subject: string;
  user_id: string;
  email: string | null;
  email_verified: number;
  created_at: number;
  last_used_at: number;
  /** Encrypted (GATEHOUSE_OAUTH_STORE_TOKENS); null when not stored. */
  provider_tokens: string | null;
}

export interface ExternalSignInFlowsTable {
  handle_hash: string;
  provider: string;
  state: string;
  code_verifier: string;
  nonce: string | null;
  return_to: string | null;
  link_user_id: string | null;
  created_at: number;
  expires_at: number;
}

export interface UsedIdTokensTable {
  token_key: string;
  expires_at: number;
}

export interface ClientsTable {
  client_id: string;
  client_name: string;
  token_endpoint_auth_method: string;
  /** JSON arrays of URIs. */
  redirect_uris: string;
  post_logout_redirect_uris: string;
  /** Space-separated. */
  grant_types: string;
  scope: string;
  /** JSON: the client's public JWK Set, for `private_key_jwt`. */
  jwks: string | null;
  jwks_uri: string | null;
  id_token_signed_response_alg: string;
  backchannel_logout_uri: string | null;
  skip_consent: number;
  audience: string | null;
  require_pushed_authorization_requests: number;
  created_at: number;
  updated_at: number;
}

export interface ClientSecretsTable {
  id: string;
  client_id: string;
  /** SHA-256 of the secret; the secret exists only in the answer that showed it. */
  secret_hash: string;
  created_at: number;
  /** Null: the current secret. A rotated one works until then (GATEHOUSE_CLIENT_SECRET_OVERLAP). */
  expires_at: number | null;
}

/** OpenID Provider authorization codes: single use, 60 s; only a hash of the code is kept. */
export interface AuthorizationCodesTable {
  code_hash: string;
  client_id: string;
  user_id: string;
  browser_session_id: string;
  redirect_uri: string;
  code_challenge: string;
  nonce: string | null;
  scope: string;
  audience: string;
  auth_time: number;
  amr: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  /** The token session the first redemption started (revoked when the code is replayed). */
  token_session_id: string | null;
}

/** A user's consent to a client for a set of scopes (sorted, space-separated). */
export interface OidcConsentsTable {
  user_id: string;
  client_id: string;
  scope: string;
  granted_at: number;
}

/** Logout tokens to deliver (OpenID Connect Back-Channel Logout 1.0); one per client and `sid`. */
export interface BackchannelLogoutsTable {
  id: string;
  client_id: string;
  /** The `sub` of the logout token: the user's id. */
  subject: string;
  /** The browser session that ended (the ID tokens' `sid`). */
  sid: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: number;
  /** The receiver's status or the transport's error; never a token. */
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

/** RFC 9126 pushed authorization requests; `id_hash` is the hash of the request_uri's secret. */
export interface PushedAuthorizationRequestsTable {
  id_hash: string;
  client_id: string;
  /** JSON of the pushed parameters. */
  parameters: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface Database {
  users: UsersTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  signing_keys: SigningKeysTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  audit_events: AuditEventsTable;
  role_permissions: RolePermissionsTable;
  api_keys: ApiKeysTable;
  mail_outbox: MailOutboxTable;
  email_tokens: EmailTokensTable;
  factors: FactorsTable;
  recovery_codes: RecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  identities: IdentitiesTable;
  external_sign_in_flows: ExternalSignInFlowsTable;
  used_id_tokens: UsedIdTokensTable;
  clients: ClientsTable;
  client_secrets: ClientSecretsTable;
  authorization_codes: AuthorizationCodesTable;
  oidc_consents: OidcConsentsTable;
  pushed_authorization_requests: PushedAuthorizationRequestsTable;
  backchannel_logouts: BackchannelLogoutsTable;
}
