/** The values the session service answers with (kept apart so sessions.ts stays readable). */
export interface TokenPair {
  readonly accessToken: string;
  readonly expiresInSeconds: number;
  readonly refreshToken: string;
  readonly scope: string;
  readonly sessionId: string;
}

/** What a token request asks for besides the credential. */
export interface TokenGrant {
  /** The request's space-separated `scope`; absent: every permission the user holds. */
  readonly scope?: string | undefined;
  readonly clientId?: string | undefined;
}

export interface Reauthenticated {
  readonly accessToken: string;
  readonly expiresInSeconds: number;
  /** Token sessions only: a new refresh token of the same session. */
  readonly refreshToken: string | undefined;
  readonly scope: string;
  readonly authTimeMs: number;
}

/** How an external provider proved the user, for the audit event and the token's claims. */
export interface ExternalSignInProof {
  readonly provider: string;
}
