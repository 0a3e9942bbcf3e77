/**
 * The maintenance loop that `gatehouse serve` and the plugin share: at start and every minute,
 * with the signing key rotated when the injected clock says it is due, and one log format for a
 * failed run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { DatabaseUnavailableError } from '../../src/auth/errors.ts';
import {
  MAINTENANCE_INTERVAL_MS,
  type MaintenanceLogger,
  type MaintenanceTimer,
  startMaintenance,
} from '../../src/auth/maintenance.ts';
import { createTestApp } from '../support/gatehouse.ts';

const DAY_MS = 86_400_000;

function manualTimer(): MaintenanceTimer & { tick(): Promise<void>; intervals: number[]; stopped: boolean } {
  let scheduled: (() => Promise<void>) | undefined;
  const timer = {
    intervals: [] as number[],
    stopped: false,
    every(intervalMs: number, tick: () => Promise<void>) {
      timer.intervals.push(intervalMs);
      scheduled = tick;
      return {
        stop: () => {
          timer.stopped = true;
        },
      };
    },
    tick: async () => {
      assert.ok(scheduled !== undefined && !timer.stopped, 'a run is scheduled');
      await scheduled();
    },
  };
  return timer;
}

function capturingLogger(): MaintenanceLogger & {
  lines: { level: string; fields: object; message: string }[];
} {
  const lines: { level: string; fields: object; message: string }[] = [];
  return {
    lines,
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
}

describe('maintenance', () => {
  test('runs at start and every minute, rotating the signing key once it is older than the setting', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_KEY_ROTATION_DAYS: '90' } });
    const timer = manualTimer();
    const log = capturingLogger();
    try {
      const first = t.gatehouse.keys.activeKey().kid;
      const maintenance = await startMaintenance(t.gatehouse.runMaintenance, log, timer);
      assert.deepEqual(timer.intervals, [MAINTENANCE_INTERVAL_MS]);
      await timer.tick();
      assert.equal(t.gatehouse.keys.activeKey().kid, first, 'not due yet');
      t.clock.advance(91 * DAY_MS);
      await timer.tick();
      const second = t.gatehouse.keys.activeKey().kid;
      assert.notEqual(second, first);
      await timer.tick();
      assert.equal(t.gatehouse.keys.activeKey().kid, second, 'the new key is young');
      maintenance.stop();
      assert.equal(timer.stopped, true);
      assert.deepEqual(log.lines, []);
    } finally {
      await t.close();
    }
  });

  test('a key already due at start is rotated before the start completes', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_KEY_ROTATION_DAYS: '30' } });
    try {
      const first = t.gatehouse.keys.activeKey().kid;
      t.clock.advance(31 * DAY_MS);
      (await startMaintenance(t.gatehouse.runMaintenance, capturingLogger(), manualTimer())).stop();
      assert.notEqual(t.gatehouse.keys.activeKey().kid, first);
    } finally {
      await t.close();
    }
  });

  test('a failed run is logged once in one format and the next run retries', async () => {
    const t = await createTestApp();
    const timer = manualTimer();
    const log = capturingLogger();
    try {
      await startMaintenance(t.gatehouse.runMaintenance, log, timer);
      await sql`alter table roles rename to roles_gone`.execute(t.gatehouse.store.db);
      await timer.tick();
      await sql`alter table roles_gone rename to roles`.execute(t.gatehouse.store.db);
      await timer.tick();
      assert.deepEqual(
        log.lines.map((line) => [line.level, line.message]),
        [['error', 'gatehouse maintenance failed']],
      );
      assert.ok((log.lines[0]?.fields as { err?: unknown } | undefined)?.err instanceof Error);
    } finally {
      await t.close();
    }
  });

  test('a database outage is a warning naming the reason', async () => {
    const timer = manualTimer();
    const log = capturingLogger();
    let outage = false;
    await startMaintenance(
      async () => {
        if (outage) throw new DatabaseUnavailableError('ECONNREFUSED');
      },
      log,
      timer,
    );
    outage = true;
    await timer.tick();
    assert.deepEqual(log.lines, [
      {
        level: 'warn',
        fields: { reason: 'ECONNREFUSED' },
        message: 'gatehouse maintenance skipped: database unavailable',
      },
    ]);
  });

  test('a failing first run fails the start', async () => {
    await assert.rejects(
      startMaintenance(
        async () => {
          throw new DatabaseUnavailableError('ECONNREFUSED');
        },
        capturingLogger(),
        manualTimer(),
      ),
      DatabaseUnavailableError,
    );
  });
});
