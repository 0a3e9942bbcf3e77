/**
 * Periodic upkeep, the same in `gatehouse serve` and in the plugin: rotates the signing key when
 * it is older than GATEHOUSE_KEY_ROTATION_DAYS, picks up keys and roles changed by another
 * process, and retries the back-channel logouts that are due, at start and every minute.
 */
import { DatabaseUnavailableError } from './errors.ts';
import type { KeyRing } from './keys.ts';
import type { RoleService } from './permissions.ts';

export const MAINTENANCE_INTERVAL_MS = 60_000;

/** The slice of a pino logger (Fastify's `app.log`) maintenance writes to. */
export interface MaintenanceLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** When the runs happen; tests tick it by hand. */
export interface MaintenanceTimer {
  every(intervalMs: number, tick: () => Promise<void>): { stop(): void };
}

/** Node's timers; they never keep the process alive. */
export const systemTimer: MaintenanceTimer = {
  every(intervalMs, tick) {
    const handle = setInterval(() => void tick(), intervalMs);
    handle.unref();
    return { stop: () => clearInterval(handle) };
  },
};

/** One run: key rotation when due, the roles as stored, then the back-channel logouts due for a retry. */
export function createMaintenanceRun(deps: {
  keys: Pick<KeyRing, 'rotateIfOlderThan'>;
  roles: Pick<RoleService, 'reload'>;
  keyRotationDays: number;
  deliverLogouts?: () => Promise<void>;
}): () => Promise<void> {
  return async () => {
    await deps.keys.rotateIfOlderThan(deps.keyRotationDays);
    await deps.roles.reload();
    await deps.deliverLogouts?.();
  };
}

/** The one log line of a failed run: a database outage is a warning (the next run retries). */
export function logMaintenanceFailure(log: MaintenanceLogger, error: unknown): void {
  if (error instanceof DatabaseUnavailableError) {
    log.warn({ reason: error.reason }, 'gatehouse maintenance skipped: database unavailable');
  } else {
    log.error({ err: error }, 'gatehouse maintenance failed');
  }
}

/**
 * Runs `run` once (a failure fails the start), then every minute; a failed run is logged and the
 * next one retries. A run still going when the next is due is not started twice.
 */
export async function startMaintenance(
  run: () => Promise<void>,
  log: MaintenanceLogger,
  timer: MaintenanceTimer = systemTimer,
): Promise<{ stop(): void }> {
  await run();
  let running = false;
  return timer.every(MAINTENANCE_INTERVAL_MS, async () => {
    if (running) return;
    running = true;
    try {
      await run();
    } catch (error) {
      logMaintenanceFailure(log, error);
    } finally {
      running = false;
    }
  });
}
