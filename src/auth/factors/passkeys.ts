/**
 * Passkeys (WebAuthn Level 3) through @simplewebauthn/server: registration on the account, the
 * second step of a password sign-in, and passwordless sign-in with a discoverable credential.
 * The relying party is the host of `GATEHOUSE_PUBLIC_URL`; challenges are single use, 5 minutes.
 * A signature counter that does not move forward (a cloned authenticator, WebAuthn §6.1.1) is
 * refused and audited.
 */
import { randomUUID } from 'node:crypto';
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { recordAuditEvent } from '../../store/audit.ts';
import {
  advanceSignCount,
  type FactorRecord,
  findFactorByCredentialId,
  findMfaChallengeByChallenge,
  insertMfaChallenge,
  listFactors,
  setMfaChallengeValue,
  spendMfaChallenge,
} from '../../store/factors.ts';
import type { UserRecord } from '../../store/users.ts';
import { FactorNotFoundError, InactiveUserError, WebAuthnFailedError } from '../errors.ts';
import { auditSource, type RequestContext } from '../request-context.ts';
import { type FactorKit, secondStepAttempt } from './factor-kit.ts';
import type { FactorManagement, FactorView } from './factor-service.ts';
import { resolveMfaToken } from './mfa-tokens.ts';
import type { SecondStep, SecondStepResult } from './second-step.ts';

export const WEBAUTHN_CHALLENGE_TTL_MS = 5 * 60_000;

export interface Passkeys {
  passkeyRegistrationOptions(user: UserRecord): Promise<PublicKeyCredentialCreationOptionsJSON>;
  registerPasskey(
    user: UserRecord,
    name: string | undefined,
    response: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<{ factor: FactorView; recoveryCodes: string[] | undefined; amr: string[] }>;
  /** Request options for the second step behind `mfaToken`: the user's passkeys allowed. */
  passkeyOptionsForMfa(mfaToken: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  completeWithPasskey(
    mfaToken: string,
    kind: 'token' | 'cookie',
    assertion: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<SecondStepResult>;
  /** Step-up options for a user's session `sessionId`: their passkeys, user verification required. */
  stepUpOptions(user: UserRecord, sessionId: string): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** Proves the user again with a passkey over a challenge of `stepUpOptions` for this session. */
  proveStepUp(
    user: UserRecord,
    sessionId: string,
    assertion: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<string[]>;
  /** Request options for passwordless sign-in: no `allowCredentials` (discoverable credentials). */
  passwordlessOptions(): Promise<PublicKeyCredentialRequestOptionsJSON>;
  signInWithPasskey(
    assertion: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<{ user: UserRecord; amr: string[] }>;
}

/** The challenge a response signed (from its clientDataJSON), to find what it answers. */
function challengeOf(response: Record<string, unknown>): string {
  try {
    const inner = response.response as { clientDataJSON?: unknown } | undefined;
    if (typeof inner?.clientDataJSON !== 'string') throw new Error();
    const data = JSON.parse(Buffer.from(inner.clientDataJSON, 'base64url').toString('utf8')) as {
      challenge?: unknown;
    };
    if (typeof data.challenge !== 'string' || data.challenge.length > 200) throw new Error();
    return data.challenge;
  } catch {
    throw new WebAuthnFailedError('no challenge in clientDataJSON');
  }
}

/** RFC 8176: `swk` for a synced (backed-up) passkey, `hwk` for one bound to its device; `user` when verified. */
const amrOf = (factor: FactorRecord, userVerified: boolean) => [
  factor.backedUp ? 'swk' : 'hwk',
  ...(userVerified ? ['user'] : []),
];

export function createPasskeys(
  kit: FactorKit,
  management: FactorManagement,
  secondStep: SecondStep,
): Passkeys {
  const { store, clock, options, throttle } = kit;
  const db = store.db;

  async function newChallenge(
    purpose: 'webauthn_register' | 'webauthn_login' | 'webauthn_reauth',
    userId: string | null,
    challenge: string,
    details: Record<string, string> = {},
  ) {
    const now = clock.now();
    await insertMfaChallenge(db, {
      id: randomUUID(),
      purpose,
      userId,
      secretHash: null,
      challenge,
      details,
      createdAt: now,
      expiresAt: now + WEBAUTHN_CHALLENGE_TTL_MS,
    });
  }

  /** Verifies an assertion by `factor` over `challenge`, moves its counter on; returns its amr. */
  async function verifyAssertion(
    factor: FactorRecord,
    assertion: Record<string, unknown>,
    challenge: string,
    requireUserVerification: boolean,
    ctx: RequestContext,
  ): Promise<string[]> {
    let info: Awaited<ReturnType<typeof verifyAuthenticationResponse>>['authenticationInfo'];
    try {
      const result = await verifyAuthenticationResponse({
        response: assertion as unknown as AuthenticationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: options.origin,
        expectedRPID: options.rpId,
        // The counter is compared below, so that a regression is told apart and audited.
        credential: {
          id: factor.credentialId ?? '',
          publicKey: Buffer.from(factor.publicKey ?? '', 'base64url'),
          counter: 0,
          transports: [...factor.transports],
        },
        requireUserVerification,
      });
      if (!result.verified) throw new Error('not verified');
      info = result.authenticationInfo;
    } catch (error) {
      throw new WebAuthnFailedError(error instanceof Error ? error.message : 'verification failed');
    }
    const now = clock.now();
    if ((factor.signCount > 0 || info.newCounter > 0) && info.newCounter <= factor.signCount) {
      await recordAuditEvent(db, {
        event: 'webauthn.sign_count_regressed',
        at: now,
        userId: factor.userId,
        target: factor.id,
        ...auditSource(ctx),
        details: { stored: factor.signCount, presented: info.newCounter },
      });
      throw new WebAuthnFailedError('sign count did not increase: possibly a cloned authenticator');
    }
    if (!(await advanceSignCount(db, factor.id, factor.signCount, info.newCounter, now))) {
      throw new WebAuthnFailedError('counter moved by another request');
    }
    return amrOf(factor, info.userVerified);
  }

  /** A passkey proof of `user`, counted in the failed-login throttle of the second step. */
  async function throttled(user: UserRecord, ctx: RequestContext, prove: () => Promise<string[]>) {
    const attempt = secondStepAttempt(user, ctx);
    await throttle.admit(attempt);
    try {
      const amr = await prove();
      await throttle.recordSuccess(attempt);
      return amr;
    } catch (error) {
      if (error instanceof WebAuthnFailedError) await throttle.recordFailure(attempt);
      throw error;
    }
  }

  async function ownPasskey(user: UserRecord, assertion: Record<string, unknown>): Promise<FactorRecord> {
    const id = typeof assertion.id === 'string' ? assertion.id : '';
    const factor = id === '' ? undefined : await findFactorByCredentialId(db, id);
    if (factor === undefined || factor.userId !== user.id || factor.type !== 'webauthn') {
      throw new WebAuthnFailedError('credential of another account or unknown');
    }
    return factor;
  }

  return {
    async passkeyRegistrationOptions(user) {
      const existing = (await listFactors(db, user.id)).filter((f) => f.type === 'webauthn');
      const creation = await generateRegistrationOptions({
        rpName: options.appName,
        rpID: options.rpId,
        userName: user.username,
        userDisplayName: user.fullName ?? user.username,
        userID: new TextEncoder().encode(user.id),
        attestationType: 'none',
        excludeCredentials: existing.map((f) => ({
          id: f.credentialId ?? '',
          transports: [...f.transports],
        })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      await newChallenge('webauthn_register', user.id, creation.challenge);
      return creation;
    },

    async registerPasskey(user, name, response, ctx) {
      const challenge = challengeOf(response);
      const row = await findMfaChallengeByChallenge(db, 'webauthn_register', challenge);
      if (
        row === undefined ||
        row.userId !== user.id ||
        !(await spendMfaChallenge(db, row.id, clock.now()))
      ) {
        throw new WebAuthnFailedError('unknown, spent or expired registration challenge');
      }
      let info: NonNullable<Awaited<ReturnType<typeof verifyRegistrationResponse>>['registrationInfo']>;
      try {
        const result = await verifyRegistrationResponse({
          response: response as unknown as RegistrationResponseJSON,
          expectedChallenge: challenge,
          expectedOrigin: options.origin,
          expectedRPID: options.rpId,
          requireUserVerification: false,
        });
        if (!result.verified) throw new Error('not verified');
        info = result.registrationInfo;
      } catch (error) {
        throw new WebAuthnFailedError(error instanceof Error ? error.message : 'verification failed');
      }
      if (await findFactorByCredentialId(db, info.credential.id)) {
        throw new WebAuthnFailedError('credential already registered');
      }
      const now = clock.now();
      const record: FactorRecord = {
        id: randomUUID(),
        userId: user.id,
        type: 'webauthn',
        name: name ?? 'Passkey',
        secret: null,
        lastStep: null,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        signCount: info.credential.counter,
        transports: info.credential.transports ?? [],
        aaguid: info.aaguid,
        backedUp: info.credentialBackedUp,
        createdAt: now,
        confirmedAt: now,
        lastUsedAt: null,
      };
      const added = await management.addFactor(user, record, ctx);
      return { ...added, amr: amrOf(record, info.userVerified) };
    },

    async passkeyOptionsForMfa(mfaToken) {
      const resolved = await resolveMfaToken(db, 'mfa', mfaToken, clock.now());
      const passkeys = (await listFactors(db, resolved.userId, true)).filter((f) => f.type === 'webauthn');
      const request = await generateAuthenticationOptions({
        rpID: options.rpId,
        allowCredentials: passkeys.map((f) => ({ id: f.credentialId ?? '', transports: [...f.transports] })),
        userVerification: 'preferred',
      });
      await setMfaChallengeValue(db, resolved.record.id, request.challenge);
      return request;
    },

    completeWithPasskey: (mfaToken, kind, assertion, ctx) =>
      secondStep.completeWith(mfaToken, kind, (user, record) =>
        throttled(user, ctx, async () => {
          if (record.challenge === null || record.challenge !== challengeOf(assertion)) {
            throw new WebAuthnFailedError('challenge of another ceremony');
          }
          const factor = await ownPasskey(user, assertion);
          return verifyAssertion(factor, assertion, record.challenge, false, ctx);
        }),
      ),

    async stepUpOptions(user, sessionId) {
      const passkeys = (await listFactors(db, user.id, true)).filter((f) => f.type === 'webauthn');
      if (passkeys.length === 0) throw new FactorNotFoundError();
      const request = await generateAuthenticationOptions({
        rpID: options.rpId,
        allowCredentials: passkeys.map((f) => ({ id: f.credentialId ?? '', transports: [...f.transports] })),
        userVerification: 'required',
      });
      await newChallenge('webauthn_reauth', user.id, request.challenge, { sessionId });
      return request;
    },

    proveStepUp: (user, sessionId, assertion, ctx) =>
      throttled(user, ctx, async () => {
        const challenge = challengeOf(assertion);
        // Only a step-up challenge of this user's session: not a sign-in's, not another session's.
        const row = await findMfaChallengeByChallenge(db, 'webauthn_reauth', challenge);
        if (
          row === undefined ||
          row.userId !== user.id ||
          row.details.sessionId !== sessionId ||
          !(await spendMfaChallenge(db, row.id, clock.now()))
        ) {
          throw new WebAuthnFailedError('unknown, spent or expired step-up challenge');
        }
        const factor = await ownPasskey(user, assertion);
        // With user verification a passkey is two factors in one (WebAuthn §6.2.3).
        return [...(await verifyAssertion(factor, assertion, challenge, true, ctx)), 'mfa'];
      }),

    async passwordlessOptions() {
      const request = await generateAuthenticationOptions({
        rpID: options.rpId,
        userVerification: 'required',
      });
      await newChallenge('webauthn_login', null, request.challenge);
      return request;
    },

    async signInWithPasskey(assertion, ctx) {
      const challenge = challengeOf(assertion);
      const row = await findMfaChallengeByChallenge(db, 'webauthn_login', challenge);
      if (row === undefined || !(await spendMfaChallenge(db, row.id, clock.now()))) {
        throw new WebAuthnFailedError('unknown, spent or expired challenge');
      }
      const id = typeof assertion.id === 'string' ? assertion.id : '';
      const factor = id === '' ? undefined : await findFactorByCredentialId(db, id);
      if (factor === undefined || factor.type !== 'webauthn')
        throw new WebAuthnFailedError('unknown credential');
      // A passkey with user verification is itself multi-factor (possession + PIN or biometrics).
      const amr = await verifyAssertion(factor, assertion, challenge, true, ctx);
      const user = await kit.accounts.findUser(factor.userId);
      if (user === undefined) throw new WebAuthnFailedError('account gone');
      if (user.disabled) throw new InactiveUserError();
      return { user, amr: [...amr, 'mfa'] };
    },
  };
}
