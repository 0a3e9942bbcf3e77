/** A background worker's runs, one at a time per process. */

/**
 * Wraps `run` so that a call arriving while a run is in progress gets a fresh run after it (work
 * queued meanwhile is not missed), and `settled()` waits for the one in progress.
 */
export function serialRuns(run: () => Promise<void>): { runOnce(): Promise<void>; settled(): Promise<void> } {
  let running: Promise<void> | undefined;
  return {
    runOnce() {
      const next = (running ?? Promise.resolve()).then(run);
      const settled = next.catch(() => {});
      running = settled;
      void settled.then(() => {
        if (running === settled) running = undefined;
      });
      return next;
    },
    settled: async () => {
      await running;
    },
  };
}
