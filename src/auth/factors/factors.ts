/** The factor service: management (`factor-service.ts`), the second step and passkeys, on one kit. */
import type { Clock } from '../../clock.ts';
import type { Config } from '../../config.ts';
import type { MailOutbox } from '../../mail/outbox.ts';
import type { MailTemplates } from '../../mail/templates.ts';
import type { Store } from '../../store/db.ts';
import { findEncryptedFactor } from '../../store/factors.ts';
import type { UserRecord } from '../../store/users.ts';
import type { AccountService } from '../accounts.ts';
import { createSecretBox, type SecretBox } from '../encryption.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import type { RoleService } from '../permissions.ts';
import { type FactorKit, type FactorOptions, totpAad } from './factor-kit.ts';
import { createFactorManagement, type FactorManagement } from './factor-service.ts';
import { createPasskeys, type Passkeys } from './passkeys.ts';
import { createPolicyEnrollment, type PolicyEnrollment } from './policy-enrollment.ts';
import { createSecondStep, type SecondStep } from './second-step.ts';

export type FactorService = FactorManagement & SecondStep & Passkeys & PolicyEnrollment;

export function createFactorService(deps: {
  store: Store;
  clock: Clock;
  accounts: AccountService;
  roles: RoleService;
  throttle: LoginThrottle;
  secretBox: SecretBox;
  notify: (user: UserRecord, change: string) => Promise<void>;
  options: FactorOptions;
}): FactorService {
  const kit: FactorKit = deps;
  const management = createFactorManagement(kit);
  const secondStep = createSecondStep(kit);
  const passkeys = createPasskeys(kit, management, secondStep);
  return {
    ...management,
    ...secondStep,
    ...passkeys,
    ...createPolicyEnrollment(management, passkeys, secondStep),
  };
}

/** The factor service of a Gatehouse: its key, policy, relying party and mail notices from `config`. */
export async function createFactorServiceFromConfig(
  config: Config,
  deps: Pick<
    Parameters<typeof createFactorService>[0],
    'store' | 'clock' | 'accounts' | 'roles' | 'throttle'
  > & {
    mail: MailOutbox;
    templates: MailTemplates;
  },
): Promise<FactorService> {
  const secretBox = createSecretBox(config.encryptionKeys);
  await checkEncryptionKey(deps.store, secretBox);
  const publicUrl = new URL(config.publicUrl);
  return createFactorService({
    ...deps,
    secretBox,
    notify: async (user, change) => {
      const vars = { app_name: config.appName, username: user.username, change };
      await deps.mail.enqueue({ to: user.email, ...deps.templates.render('factor-notice', vars) });
    },
    options: {
      appName: config.appName,
      mfaPolicy: config.mfa,
      rpId: publicUrl.hostname,
      origin: publicUrl.origin,
    },
  });
}

/** Refuses to start when TOTP secrets are stored and the configured keys cannot read them. */
export async function checkEncryptionKey(store: Store, secretBox: SecretBox): Promise<void> {
  const factor = await findEncryptedFactor(store.db);
  if (factor?.secret == null) return;
  if (!secretBox.enabled) {
    throw new Error(
      'GATEHOUSE_ENCRYPTION_KEY is required: authenticator-app secrets are stored encrypted and cannot be read without it',
    );
  }
  try {
    secretBox.decrypt(factor.secret, totpAad(factor));
  } catch {
    throw new Error(
      'GATEHOUSE_ENCRYPTION_KEY does not read the stored authenticator-app secrets: to rotate, put the new key first and keep the old one in the list',
    );
  }
}
