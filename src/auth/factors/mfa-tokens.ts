/**
 * The tokens between the first and the second sign-in step: an `mfa_token` (single use, 5
 * minutes) or an enrollment token (10 minutes, enrols a factor only). Opaque `<id>.<secret>` with
 * a prefix of their own; only a hash of the secret is stored, with what the first step was.
 */
import type { Kysely } from 'kysely';
import {
  findMfaChallenge,
  insertMfaChallenge,
  type MfaChallengeRecord,
  spendMfaChallenge,
} from '../../store/factors.ts';
import type { Database } from '../../store/schema.ts';
import { InvalidMfaTokenError } from '../errors.ts';
import { hashSecret, newOpaqueToken, secretMatches, splitOpaqueToken } from '../secrets.ts';

export const MFA_TOKEN_TTL_MS = 5 * 60_000;
export const ENROLLMENT_TOKEN_TTL_MS = 10 * 60_000;
const PREFIX = { mfa: 'mfa_', enrollment: 'enr_' } as const;

export type MfaTokenPurpose = keyof typeof PREFIX;

/** What the first step was, so the second one finishes exactly it. */
export interface FirstStep {
  /** The session the sign-in makes: tokens (`POST /token`) or a cookie (`POST /login`). */
  readonly kind: 'token' | 'cookie';
  /** How the first factor was proven (`password`, `magic_link`, …). */
  readonly method: string;
  readonly amr: readonly string[];
  readonly scope: string;
  readonly clientId: string | undefined;
  /** An external sign-in's provider: the session made at the second step names it too. */
  readonly provider?: string | undefined;
}

export function isEnrollmentToken(value: string): boolean {
  return value.startsWith(PREFIX.enrollment);
}

export async function issueMfaToken(
  db: Kysely<Database>,
  purpose: MfaTokenPurpose,
  userId: string,
  step: FirstStep,
  now: number,
): Promise<string> {
  const token = newOpaqueToken();
  await insertMfaChallenge(db, {
    id: token.id,
    purpose,
    userId,
    secretHash: hashSecret(token.secret),
    challenge: null,
    details: { ...step },
    createdAt: now,
    expiresAt: now + (purpose === 'mfa' ? MFA_TOKEN_TTL_MS : ENROLLMENT_TOKEN_TTL_MS),
  });
  return `${PREFIX[purpose]}${token.value}`;
}

export interface ResolvedMfaToken {
  readonly record: MfaChallengeRecord;
  readonly userId: string;
  readonly step: FirstStep;
}

/** The live, unspent token's record; InvalidMfaTokenError for anything else. */
export async function resolveMfaToken(
  db: Kysely<Database>,
  purpose: MfaTokenPurpose,
  value: string,
  now: number,
): Promise<ResolvedMfaToken> {
  if (!value.startsWith(PREFIX[purpose])) throw new InvalidMfaTokenError('wrong kind');
  const parts = splitOpaqueToken(value.slice(PREFIX[purpose].length));
  if (parts === undefined) throw new InvalidMfaTokenError('malformed');
  const record = await findMfaChallenge(db, parts.id);
  if (
    record === undefined ||
    record.purpose !== purpose ||
    record.secretHash === null ||
    record.userId === null ||
    !secretMatches(parts.secret, record.secretHash)
  ) {
    throw new InvalidMfaTokenError('unknown');
  }
  if (record.usedAt !== null) throw new InvalidMfaTokenError('spent');
  if (record.expiresAt <= now) throw new InvalidMfaTokenError('expired');
  return { record, userId: record.userId, step: record.details as unknown as FirstStep };
}

/** Spends the token; InvalidMfaTokenError when another request spent it first. */
export async function spendMfaToken(db: Kysely<Database>, id: string, now: number): Promise<void> {
  if (!(await spendMfaChallenge(db, id, now))) throw new InvalidMfaTokenError('spent');
}
