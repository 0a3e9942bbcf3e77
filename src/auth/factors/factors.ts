/** The factor service: management (`factor-service.ts`), the second step and passkeys, on one kit. */
import type { Clock } from '../../clock.ts';
import type { Store } from '../../store/db.ts';
import { hasEncryptedFactors } from '../../store/factors.ts';
import type { UserRecord } from '../../store/users.ts';
import type { AccountService } from '../accounts.ts';
import type { SecretBox } from '../encryption.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import type { RoleService } from '../permissions.ts';
import type { FactorKit, FactorOptions } from './factor-kit.ts';
import { createFactorManagement, type FactorManagement } from './factor-service.ts';
import { createPasskeys, type Passkeys } from './passkeys.ts';
import { createSecondStep, type SecondStep } from './second-step.ts';

export type FactorService = FactorManagement & SecondStep & Passkeys;

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
  return { ...management, ...secondStep, ...createPasskeys(kit, management, secondStep) };
}

/** Refuses to start when TOTP secrets are stored and no key can read them. */
export async function checkEncryptionKey(store: Store, secretBox: SecretBox): Promise<void> {
  if (!secretBox.enabled && (await hasEncryptedFactors(store.db))) {
    throw new Error(
      'GATEHOUSE_ENCRYPTION_KEY is required: authenticator-app secrets are stored encrypted and cannot be read without it',
    );
  }
}
