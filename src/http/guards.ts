/**
 * Who is calling. Guards are preHandlers that set `request.principal`; routes declare the same
 * guard in their OpenAPI security so /docs shows it.
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AccountService } from '../auth/accounts.ts';
import {
  InactiveUserError,
  InvalidCredentialsError,
  InvalidTokenError,
  NotAuthenticatedError,
} from '../auth/errors.ts';
import type { AccessTokenClaims, TokenService } from '../auth/tokens.ts';
import type { UserRecord } from '../store/users.ts';

export interface Principal {
  readonly user: UserRecord;
  /** Present when authenticated by a bearer token. */
  readonly claims: AccessTokenClaims | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface Guards {
  /** Requires a valid bearer token of an existing, enabled user. */
  requireUser: preHandlerAsyncHookHandler;
  /** Sets `request.principal` when a valid token is sent; anonymous otherwise. Bad tokens still fail. */
  optionalUser: preHandlerAsyncHookHandler;
  /** HTTP Basic against the user store (RFC 7617). The least recommended method. */
  requireBasicUser: preHandlerAsyncHookHandler;
}

export const BEARER_SECURITY = [{ OAuth2PasswordBearer: [] }];
export const BASIC_SECURITY = [{ HTTPBasic: [] }];

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  if (!match) return undefined;
  return match[1];
}

export function createGuards(accounts: AccountService, tokens: TokenService): Guards {
  async function authenticateBearer(request: FastifyRequest, required: boolean): Promise<void> {
    const token = bearerToken(request);
    if (token === undefined) {
      if (required || request.headers.authorization !== undefined) throw new NotAuthenticatedError('Bearer');
      return;
    }
    const claims = tokens.verifyAccessToken(token);
    const user = await accounts.findUser(claims.sub);
    if (user === undefined) throw new InvalidTokenError('user no longer exists');
    if (user.disabled) throw new InactiveUserError();
    request.principal = { user, claims };
  }

  return {
    requireUser: async (request: FastifyRequest, _reply: FastifyReply) => authenticateBearer(request, true),
    optionalUser: async (request: FastifyRequest, _reply: FastifyReply) => authenticateBearer(request, false),
    requireBasicUser: async (request: FastifyRequest, _reply: FastifyReply) => {
      const header = request.headers.authorization ?? '';
      const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header);
      if (!match) throw new NotAuthenticatedError('Basic');
      const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new NotAuthenticatedError('Basic');
      try {
        // authenticate compares through the password hash (constant time) and burns a dummy
        // verify for unknown users, so timing tells nothing about which part was wrong.
        const user = await accounts.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1));
        request.principal = { user, claims: undefined };
      } catch (error) {
        if (error instanceof InvalidCredentialsError)
          throw new NotAuthenticatedError('Basic', 'Incorrect username or password');
        throw error;
      }
    },
  };
}

/** The principal a guard set; throws when the route has no guard (a wiring mistake, not a client's). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new NotAuthenticatedError('Bearer');
  return request.principal;
}
