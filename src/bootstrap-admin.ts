/** The administrator named by GATEHOUSE_ADMIN_* settings, created at `serve` when missing. */
import { EmailTakenError, UsernameTakenError } from './auth/errors.ts';
import { NO_REQUEST } from './auth/request-context.ts';
import type { Gatehouse } from './gatehouse.ts';

/** Creates the configured admin when no user has that username. Returns true when created. */
export async function bootstrapAdmin(gatehouse: Gatehouse): Promise<boolean> {
  const { adminUsername, adminEmail, adminPassword } = gatehouse.config;
  if (adminUsername === undefined || adminEmail === undefined || adminPassword === undefined) return false;
  if (await gatehouse.accounts.findByUsername(adminUsername)) return false;
  try {
    await gatehouse.accounts.register(
      {
        username: adminUsername,
        email: adminEmail,
        password: adminPassword,
        roles: ['user', 'admin'],
        // The operator configured the address: it counts as verified, so with
        // GATEHOUSE_REQUIRE_VERIFIED_EMAIL=true the administrator can still log in.
        emailVerified: true,
      },
      NO_REQUEST,
      'bootstrap',
    );
  } catch (error) {
    // Several processes starting at once: one of them created it.
    if (error instanceof UsernameTakenError || error instanceof EmailTakenError) return false;
    throw error;
  }
  return true;
}
