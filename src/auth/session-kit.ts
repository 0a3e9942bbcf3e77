/** What the session operations share: built once by `createSessionService`. */
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.ts';
import type { Database } from '../store/schema.ts';
import type { revokeSessions, SessionRecord } from '../store/sessions.ts';
import type { UserRecord } from '../store/users.ts';
import type { AccountService } from './accounts.ts';
import type { PasswordCheckPurpose } from './password-check.ts';
import type { PasswordHasher } from './passwords.ts';
import type { RequestContext } from './request-context.ts';
import type { RevocationState } from './revocation.ts';
import type { SessionServiceOptions } from './sessions.ts';

type SessionSelection = Parameters<typeof revokeSessions>[1];

export interface SessionKit {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly options: SessionServiceOptions;
  readonly accounts: AccountService;
  readonly hasher: PasswordHasher;
  readonly revocation: RevocationState;
  /** Told of outcomes worth counting; optional. */
  readonly metrics?: { refreshReuseDetected(): void };
  /** Whether the session is live now (not revoked, not past absolute or idle expiry). */
  isSessionLive(session: SessionRecord): boolean;
  issueAccess(
    user: UserRecord,
    sessionId: string,
    scope: string,
    clientId: string | undefined,
    authTimeMs: number,
    amr?: readonly string[],
    externalProvider?: string,
    /** A client session's `aud` (RFC 8707); default the server's audience. */
    audience?: string,
  ): { token: string; expiresInSeconds: number };
  /** Revokes the sessions in `executor` (a transaction); returns their ids to mark once committed. */
  revokeAndRemember(executor: Kysely<Database>, where: SessionSelection, reason: string): Promise<string[]>;
  checkCurrentPassword(
    user: UserRecord,
    password: string,
    ctx: RequestContext,
    purpose: PasswordCheckPurpose,
  ): Promise<UserRecord>;
}
