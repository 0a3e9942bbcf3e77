/**
 * Enrolment by policy on the hosted pages (GATEHOUSE_MFA): a cookie sign-in that answered
 * `mfa_enrollment_required` sets up its first factor with the enrollment token, and proving that
 * factor finishes the same sign-in (both factors: the first step's and the new one). An API client
 * instead enrols with the token as a bearer and then signs in again with both factors.
 */
import type { UserRecord } from '../../store/users.ts';
import type { RequestContext } from '../request-context.ts';
import type { FactorManagement } from './factor-service.ts';
import type { Passkeys } from './passkeys.ts';
import type { SecondStep, SecondStepResult } from './second-step.ts';

export interface EnrolledSignIn extends SecondStepResult {
  /** The first factor's recovery codes, shown this once. */
  readonly recoveryCodes: string[] | undefined;
}

export interface PolicyEnrollment {
  /** Confirms an authenticator app enrolled with the token, then finishes the cookie sign-in. */
  confirmTotpToSignIn(
    enrollmentToken: string,
    factorId: string,
    code: string,
    ctx: RequestContext,
  ): Promise<EnrolledSignIn>;
  /** Stores a passkey made with the token's creation options, then finishes the cookie sign-in. */
  registerPasskeyToSignIn(
    enrollmentToken: string,
    response: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<EnrolledSignIn>;
}

export function createPolicyEnrollment(
  management: FactorManagement,
  passkeys: Passkeys,
  secondStep: SecondStep,
): PolicyEnrollment {
  async function enrolled(
    enrollmentToken: string,
    enrol: (user: UserRecord) => Promise<{ recoveryCodes: string[] | undefined; amr: string[] }>,
  ): Promise<EnrolledSignIn> {
    let recoveryCodes: string[] | undefined;
    const done = await secondStep.completeEnrollment(enrollmentToken, 'cookie', async (user) => {
      const added = await enrol(user);
      recoveryCodes = added.recoveryCodes;
      return added.amr;
    });
    return { ...done, recoveryCodes };
  }

  return {
    confirmTotpToSignIn: (enrollmentToken, factorId, code, ctx) =>
      enrolled(enrollmentToken, async (user) => ({
        ...(await management.confirmTotp(user, factorId, code, ctx)),
        amr: ['otp'],
      })),
    registerPasskeyToSignIn: (enrollmentToken, response, ctx) =>
      enrolled(enrollmentToken, (user) => passkeys.registerPasskey(user, undefined, response, ctx)),
  };
}
