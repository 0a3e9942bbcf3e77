import type { JWTPayload } from 'jose';

/** The claims of a verified Gatehouse access token (RFC 9068). */
export interface VerifiedClaims extends JWTPayload {
  readonly sub: string;
  readonly scope?: string;
  readonly roles?: string[];
  readonly preferred_username?: string;
  readonly client_id?: string;
  readonly sid?: string;
  /** When the user last proved a credential in the session (RFC 9470), in seconds. */
  readonly auth_time?: number;
  /** `urn:gatehouse:acr:mfa` when the session was proven with two factors. */
  readonly acr?: string;
  /** RFC 8176 methods the session was proven with. */
  readonly amr?: string[];
}

/** The caller of a request, read from a verified access token. */
export interface TokenPrincipal {
  readonly userId: string;
  readonly username: string | undefined;
  readonly roles: readonly string[];
  readonly scopes: ReadonlySet<string>;
  readonly claims: VerifiedClaims;
}

/** Request headers as Node (`IncomingMessage.headers`) or Fetch (`Headers`) gives them. */
export type HeadersLike =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | string[] | undefined>>;

export function principalOf(claims: VerifiedClaims): TokenPrincipal {
  return {
    userId: claims.sub,
    username: claims.preferred_username,
    roles: claims.roles ?? [],
    scopes: new Set((claims.scope ?? '').split(' ').filter(Boolean)),
    claims,
  };
}

export function authorizationOf(headers: HeadersLike): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get('authorization') ?? undefined;
  }
  const value = (headers as Readonly<Record<string, string | string[] | undefined>>).authorization;
  return Array.isArray(value) ? value[0] : value;
}
