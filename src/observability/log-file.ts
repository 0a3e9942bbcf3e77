/**
 * The log file (`GATEHOUSE_LOG_FILE`) as pino's destination: lines are gathered in memory and
 * written together (when 4 KiB wait, every 250 ms, on close and when the process exits) rather
 * than with one write(2) per line, which cost two system calls per request (a fifth of a
 * whoami's time). What is lost to a SIGKILL is at most the last 250 ms.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export interface LogFile {
  write(line: string): void;
  /** Writes what is waiting now. */
  flush(): void;
  /** Flushes and closes the file; later lines are dropped. */
  close(): void;
}

export interface LogFileOptions {
  readonly maxBufferedBytes?: number;
  readonly flushIntervalMs?: number;
}

export function openLogFile(path: string, options: LogFileOptions = {}): LogFile {
  const maxBufferedBytes = options.maxBufferedBytes ?? 4096;
  const fd = openSync(path, 'a');
  let pending: string[] = [];
  let pendingLength = 0;
  let open = true;

  const flush = () => {
    if (pending.length === 0 || !open) return;
    const bytes = Buffer.from(pending.join(''));
    pending = [];
    pendingLength = 0;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
  };
  const timer = setInterval(flush, options.flushIntervalMs ?? 250);
  timer.unref();
  process.on('exit', flush);

  return {
    write(line) {
      if (!open) return;
      pending.push(line);
      pendingLength += line.length;
      if (pendingLength >= maxBufferedBytes) flush();
    },
    flush,
    close() {
      if (!open) return;
      flush();
      open = false;
      clearInterval(timer);
      process.off('exit', flush);
      closeSync(fd);
    },
  };
}
