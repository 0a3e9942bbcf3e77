/**
 * The second sign-in step. Before any session of a first step (password, magic link, …) the
 * sessions service asks `requireSecondStep`: an account with a confirmed factor gets an
 * `mfa_token` instead of a session (403 `mfa_required`), one that must enrol by policy an
 * enrollment token. The second step proves a factor with that token, which is then spent.
 * Wrong codes count in the failed-login throttle per account and are audited as `login.failed`.
 */
import { recordAuditEvent } from '../../store/audit.ts';
import { countRecoveryCodes, listFactors, spendRecoveryCode, spendTotpStep } from '../../store/factors.ts';
import type { UserRecord } from '../../store/users.ts';
import {
  type FactorSummary,
  InactiveUserError,
  InvalidFactorCodeError,
  InvalidMfaTokenError,
  MfaEnrollmentRequiredError,
  MfaRequiredError,
} from '../errors.ts';
import { auditSource, type RequestContext } from '../request-context.ts';
import { type FactorKit, secondStepAttempt, summaryOf, totpAad } from './factor-kit.ts';
import { type FirstStep, issueMfaToken, resolveMfaToken, spendMfaToken } from './mfa-tokens.ts';
import { hashRecoveryCode } from './recovery-codes.ts';
import { matchTotpStep } from './totp.ts';

/** A second factor as presented: a one-time code of an authenticator app, or a recovery code. */
export interface CodeProof {
  readonly otp?: string | undefined;
  readonly recoveryCode?: string | undefined;
}

export interface SecondStepResult {
  readonly user: UserRecord;
  readonly step: FirstStep;
  /** RFC 8176 methods of both steps, with `mfa`. */
  readonly amr: string[];
}

export interface SecondStep {
  requireSecondStep(user: UserRecord, step: FirstStep): Promise<void>;
  /** Finishes the first step behind `mfaToken` with a code; the token must be of a `kind` first step. */
  completeWithCode(
    mfaToken: string,
    kind: FirstStep['kind'],
    proof: CodeProof,
    ctx: RequestContext,
  ): Promise<SecondStepResult>;
  /** Proves a code of a signed-in user (step-up); returns the methods it adds to the session. */
  proveCode(user: UserRecord, proof: CodeProof, ctx: RequestContext): Promise<string[]>;
  /** The user an enrollment token may enrol a factor for; InvalidMfaTokenError otherwise. */
  enrollingUser(enrollmentToken: string): Promise<UserRecord>;
  /** The factors the second step behind a live `mfaToken` may use; none when it is not live. */
  factorsFor(mfaToken: string): Promise<FactorSummary[]>;
  /** Spends an enrollment token once its factor is confirmed. */
  spendEnrollment(enrollmentToken: string): Promise<void>;
  /** Finishes the first step behind `mfaToken` with a factor proven elsewhere (a passkey). */
  completeWith(
    mfaToken: string,
    kind: FirstStep['kind'],
    prove: (user: UserRecord, record: { id: string; challenge: string | null }) => Promise<string[]>,
  ): Promise<SecondStepResult>;
  /**
   * Finishes the first step behind an enrollment token once `enrol` has added and proven the
   * user's first factor (policy enrolment on the pages); the token is then spent.
   */
  completeEnrollment(
    enrollmentToken: string,
    kind: FirstStep['kind'],
    enrol: (user: UserRecord) => Promise<string[]>,
  ): Promise<SecondStepResult>;
}

export const combinedAmr = (first: readonly string[], second: readonly string[]) => [
  ...new Set([...first, ...second, 'mfa']),
];

export function createSecondStep(kit: FactorKit): SecondStep {
  const { store, clock, throttle, secretBox, options } = kit;
  const db = store.db;

  const mustEnrol = (user: UserRecord) =>
    options.mfaPolicy === 'required' ||
    (options.mfaPolicy === 'required_for_admins' && user.roles.includes('admin'));

  async function failed(user: UserRecord, ctx: RequestContext, reason: string): Promise<never> {
    await recordAuditEvent(db, {
      event: 'login.failed',
      at: clock.now(),
      userId: user.id,
      ...auditSource(ctx),
      details: { reason },
    });
    await throttle.recordFailure(secondStepAttempt(user, ctx));
    throw new InvalidFactorCodeError();
  }

  async function proveCode(user: UserRecord, proof: CodeProof, ctx: RequestContext): Promise<string[]> {
    const attempt = secondStepAttempt(user, ctx);
    await throttle.admit(attempt);
    const now = clock.now();
    if (proof.otp !== undefined) {
      const code = proof.otp.trim();
      for (const factor of await listFactors(db, user.id, true)) {
        if (factor.type !== 'totp' || factor.secret === null) continue;
        const step = matchTotpStep(secretBox.decrypt(factor.secret, totpAad(factor)), code, now);
        // RFC 6238 §5.2: a code is accepted once; one of its step or an earlier one is a replay.
        if (step !== undefined && (await spendTotpStep(db, factor.id, step, now))) {
          await throttle.recordSuccess(attempt);
          return ['otp'];
        }
      }
      return failed(user, ctx, 'wrong_otp');
    }
    if (proof.recoveryCode !== undefined) {
      if (!(await spendRecoveryCode(db, user.id, hashRecoveryCode(proof.recoveryCode), now))) {
        return failed(user, ctx, 'wrong_recovery_code');
      }
      await throttle.recordSuccess(attempt);
      await recordAuditEvent(db, {
        event: 'recovery_code.used',
        at: now,
        userId: user.id,
        ...auditSource(ctx),
        details: { left: await countLeft(user.id) },
      });
      await kit.notify(user, 'A recovery code was used to sign in to your account. Each code works once.');
      return ['otp'];
    }
    return failed(user, ctx, 'no_code');
  }

  const countLeft = (userId: string) => countRecoveryCodes(db, userId);

  async function liveUser(userId: string): Promise<UserRecord> {
    const user = await kit.accounts.findUser(userId);
    if (user === undefined) throw new InvalidMfaTokenError('user gone');
    if (user.disabled) throw new InactiveUserError();
    return user;
  }

  async function complete(
    purpose: 'mfa' | 'enrollment',
    mfaToken: string,
    kind: FirstStep['kind'],
    prove: (user: UserRecord, record: { id: string; challenge: string | null }) => Promise<string[]>,
  ): Promise<SecondStepResult> {
    const resolved = await resolveMfaToken(db, purpose, mfaToken, clock.now());
    if (resolved.step.kind !== kind) throw new InvalidMfaTokenError('other first step');
    const user = await liveUser(resolved.userId);
    const second = await prove(user, resolved.record);
    // A wrong code leaves the token for another try (the throttle bounds them); a right one spends it.
    await spendMfaToken(db, resolved.record.id, clock.now());
    return { user, step: resolved.step, amr: combinedAmr(resolved.step.amr, second) };
  }

  return {
    async requireSecondStep(user, step) {
      const factors = await listFactors(db, user.id, true);
      const now = clock.now();
      if (factors.length > 0) {
        throw new MfaRequiredError(
          await issueMfaToken(db, 'mfa', user.id, step, now),
          factors.map(summaryOf),
        );
      }
      if (mustEnrol(user)) {
        throw new MfaEnrollmentRequiredError(await issueMfaToken(db, 'enrollment', user.id, step, now));
      }
    },
    completeWithCode: (mfaToken, kind, proof, ctx) =>
      complete('mfa', mfaToken, kind, (user) => proveCode(user, proof, ctx)),
    completeWith: (mfaToken, kind, prove) => complete('mfa', mfaToken, kind, prove),
    completeEnrollment: (token, kind, enrol) => complete('enrollment', token, kind, enrol),
    proveCode,
    async factorsFor(mfaToken) {
      try {
        const resolved = await resolveMfaToken(db, 'mfa', mfaToken, clock.now());
        return (await listFactors(db, resolved.userId, true)).map(summaryOf);
      } catch (error) {
        if (error instanceof InvalidMfaTokenError) return [];
        throw error;
      }
    },
    async enrollingUser(enrollmentToken) {
      return liveUser((await resolveMfaToken(db, 'enrollment', enrollmentToken, clock.now())).userId);
    },
    async spendEnrollment(enrollmentToken) {
      const resolved = await resolveMfaToken(db, 'enrollment', enrollmentToken, clock.now());
      await spendMfaToken(db, resolved.record.id, clock.now());
    },
  };
}
