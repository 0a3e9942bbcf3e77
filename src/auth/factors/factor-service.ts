/**
 * A user's second factors: enrol and confirm an authenticator app (TOTP), list and remove
 * factors, recovery codes, and an administrator's reset. Every change is audited in its
 * transaction and mails the user a notice.
 */

import { randomUUID } from 'node:crypto';
import QRCode from 'qrcode';
import { recordAuditEvent } from '../../store/audit.ts';
import {
  countRecoveryCodes,
  deleteAllFactors,
  deleteFactor,
  type FactorRecord,
  findFactor,
  insertFactor,
  listFactors,
  replaceRecoveryCodes,
  spendTotpStep,
} from '../../store/factors.ts';
import { listUserIdentities } from '../../store/identities.ts';
import type { UserRecord } from '../../store/users.ts';
import {
  FactorNotFoundError,
  InvalidFactorCodeError,
  LastSignInMethodError,
  MfaUnavailableError,
} from '../errors.ts';
import type { Actor } from '../privilege-ceiling.ts';
import { actorName } from '../privilege-ceiling.ts';
import { auditSource, type RequestContext } from '../request-context.ts';
import { type FactorKit, totpAad } from './factor-kit.ts';
import { newRecoveryCodes } from './recovery-codes.ts';
import { matchTotpStep, newTotpSecret, otpauthUri } from './totp.ts';

export interface FactorView {
  readonly id: string;
  readonly type: 'totp' | 'webauthn';
  readonly name: string;
  /** False for an authenticator app enrolled but not yet confirmed with a code. */
  readonly confirmed: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export interface TotpEnrollment {
  readonly id: string;
  /** Base32, for typing into an app by hand; shown this once. */
  readonly secret: string;
  readonly otpauthUri: string;
  readonly qrSvg: string;
}

export interface FactorManagement {
  listFactors(userId: string): Promise<FactorView[]>;
  /** Whether the user has a confirmed second factor. */
  hasFactor(userId: string): Promise<boolean>;
  recoveryCodesLeft(userId: string): Promise<number>;
  enrollTotp(user: UserRecord, name: string | undefined, ctx: RequestContext): Promise<TotpEnrollment>;
  /** Activates a pending authenticator app; the first factor of an account returns recovery codes. */
  confirmTotp(
    user: UserRecord,
    factorId: string,
    code: string,
    ctx: RequestContext,
  ): Promise<{ factor: FactorView; recoveryCodes: string[] | undefined }>;
  removeFactor(user: UserRecord, factorId: string, ctx: RequestContext): Promise<void>;
  regenerateRecoveryCodes(user: UserRecord, ctx: RequestContext): Promise<string[]>;
  /** An administrator (or the operator) removes every factor of a user. */
  resetFactors(actor: Actor, userId: string, ctx: RequestContext): Promise<number>;
  /** Stores a verified passkey; the first factor of an account returns recovery codes. */
  addFactor(
    user: UserRecord,
    factor: FactorRecord,
    ctx: RequestContext,
  ): Promise<{ factor: FactorView; recoveryCodes: string[] | undefined }>;
}

export const viewOf = (f: FactorRecord): FactorView => ({
  id: f.id,
  type: f.type,
  name: f.name,
  confirmed: f.confirmedAt !== null,
  createdAt: f.createdAt,
  lastUsedAt: f.lastUsedAt,
});

const TYPE_NAME = { totp: 'authenticator app', webauthn: 'passkey' } as const;

export function createFactorManagement(kit: FactorKit): FactorManagement {
  const { store, clock, secretBox, options } = kit;
  const db = store.db;

  /** New recovery codes replace the old ones, audited in the caller's transaction. */
  async function writeRecoveryCodes(trx: typeof db, user: UserRecord, now: number, ctx: RequestContext) {
    const { codes, rows } = newRecoveryCodes();
    await replaceRecoveryCodes(trx, user.id, rows, now);
    await recordAuditEvent(trx, {
      event: 'recovery_codes.generated',
      at: now,
      userId: user.id,
      ...auditSource(ctx),
      details: { count: codes.length },
    });
    return codes;
  }

  /** Recovery codes for an account's first factor (inside the transaction that confirms it). */
  async function firstFactorCodes(trx: typeof db, user: UserRecord, now: number, ctx: RequestContext) {
    const confirmed = await listFactors(trx, user.id, true);
    return confirmed.length === 1 ? writeRecoveryCodes(trx, user, now, ctx) : undefined;
  }

  async function added(user: UserRecord, factor: FactorRecord, ctx: RequestContext) {
    const now = clock.now();
    const recoveryCodes = await db.transaction().execute(async (trx) => {
      await recordAuditEvent(trx, {
        event: 'factor.added',
        at: now,
        userId: user.id,
        target: factor.id,
        ...auditSource(ctx),
        details: { type: factor.type },
      });
      return firstFactorCodes(trx, user, now, ctx);
    });
    await kit.notify(user, `A ${TYPE_NAME[factor.type]} ("${factor.name}") was added as a second factor.`);
    return { factor: viewOf({ ...factor, confirmedAt: factor.confirmedAt ?? now }), recoveryCodes };
  }

  return {
    listFactors: async (userId) => (await listFactors(db, userId)).map(viewOf),
    hasFactor: async (userId) => (await listFactors(db, userId, true)).length > 0,
    recoveryCodesLeft: (userId) => countRecoveryCodes(db, userId),

    async enrollTotp(user, name, ctx) {
      if (!secretBox.enabled) throw new MfaUnavailableError();
      const secret = newTotpSecret();
      const id = randomUUID();
      const now = clock.now();
      await insertFactor(db, {
        id,
        userId: user.id,
        type: 'totp',
        name: name ?? 'Authenticator app',
        secret: secretBox.encrypt(secret, totpAad({ id, userId: user.id })),
        lastStep: null,
        credentialId: null,
        publicKey: null,
        signCount: 0,
        transports: [],
        aaguid: null,
        backedUp: false,
        createdAt: now,
        confirmedAt: null,
        lastUsedAt: null,
      });
      void ctx;
      const uri = otpauthUri(secret, options.appName, user.email);
      const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return { id, secret, otpauthUri: uri, qrSvg };
    },

    async confirmTotp(user, factorId, code, ctx) {
      const factor = await findFactor(db, factorId);
      if (
        factor === undefined ||
        factor.userId !== user.id ||
        factor.type !== 'totp' ||
        factor.secret === null
      ) {
        throw new FactorNotFoundError();
      }
      if (factor.confirmedAt !== null)
        throw new InvalidFactorCodeError('This authenticator app is already confirmed');
      const now = clock.now();
      const step = matchTotpStep(secretBox.decrypt(factor.secret, totpAad(factor)), code.trim(), now);
      if (step === undefined || !(await spendTotpStep(db, factor.id, step, now))) {
        throw new InvalidFactorCodeError();
      }
      return added(user, { ...factor, confirmedAt: now, lastUsedAt: now }, ctx);
    },

    addFactor: async (user, factor, ctx) => {
      await insertFactor(db, factor);
      return added(user, factor, ctx);
    },

    async removeFactor(user, factorId, ctx) {
      const factors = await listFactors(db, user.id);
      const factor = factors.find((f) => f.id === factorId);
      if (factor === undefined) throw new FactorNotFoundError();
      const passkeysLeft = factors.filter((f) => f.type === 'webauthn' && f.id !== factorId).length;
      const identities = await listUserIdentities(db, user.id);
      if (
        factor.type === 'webauthn' &&
        user.passwordHash === null &&
        passkeysLeft === 0 &&
        identities.length === 0
      ) {
        throw new LastSignInMethodError('This passkey is the only way to sign in: set a password first');
      }
      const now = clock.now();
      await db.transaction().execute(async (trx) => {
        if (!(await deleteFactor(trx, user.id, factorId))) throw new FactorNotFoundError();
        if ((await listFactors(trx, user.id, true)).length === 0)
          await replaceRecoveryCodes(trx, user.id, [], now);
        await recordAuditEvent(trx, {
          event: 'factor.removed',
          at: now,
          userId: user.id,
          target: factorId,
          ...auditSource(ctx),
          details: { type: factor.type },
        });
      });
      if (factor.confirmedAt !== null) {
        await kit.notify(
          user,
          `A ${TYPE_NAME[factor.type]} ("${factor.name}") was removed from your second factors.`,
        );
      }
    },

    async regenerateRecoveryCodes(user, ctx) {
      if ((await listFactors(db, user.id, true)).length === 0) {
        throw new FactorNotFoundError();
      }
      const now = clock.now();
      const codes = await db.transaction().execute((trx) => writeRecoveryCodes(trx, user, now, ctx));
      await kit.notify(user, 'New recovery codes were made; the old ones no longer work.');
      return codes;
    },

    async resetFactors(actor, userId, ctx) {
      const target = await kit.accounts.getUserOrThrow(userId);
      kit.roles.ceiling.checkRoles(actor, target.roles);
      const now = clock.now();
      const removed = await db.transaction().execute(async (trx) => {
        const count = await deleteAllFactors(trx, userId);
        await recordAuditEvent(trx, {
          event: 'factors.reset',
          at: now,
          userId,
          ...auditSource(ctx),
          actorId: actor.kind === 'user' ? actor.userId : null,
          details: { factors: count, actor: actorName(actor) },
        });
        return count;
      });
      await kit.notify(
        target,
        'An administrator removed every second factor and recovery code of your account.',
      );
      return removed;
    },
  };
}
