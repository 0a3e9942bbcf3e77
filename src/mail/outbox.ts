/**
 * The mail outbox: a message is a row first, so the request that asked for it never waits on or
 * fails with the mail server, and a restart loses nothing. A worker sends due rows, retrying with
 * exponential back-off, and gives up after MAIL_MAX_ATTEMPTS, marking the row failed.
 *
 * Delivery is SMTP through nodemailer when `GATEHOUSE_SMTP_URL` is set; otherwise each message is
 * written as an RFC 822 `.eml` file and its link is logged, for local development.
 */
import { link as hardLink, mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { DatabaseUnavailableError } from '../auth/errors.ts';
import { serialRuns } from '../auth/serial-runs.ts';
import type { Clock } from '../clock.ts';
import type { Store } from '../store/db.ts';
import {
  claimDueMail,
  insertMail,
  markMailFailed,
  markMailSent,
  type OutgoingMail,
  scheduleMailRetry,
} from '../store/mail-outbox.ts';

export const MAIL_MAX_ATTEMPTS = 6;
/** First retry after a minute, then 2, 4, 8, 16: about half an hour before giving up. */
export const MAIL_RETRY_BASE_MS = 60_000;
/** How long a claimed message belongs to its sender; longer than any SMTP timeout below. */
const CLAIM_LEASE_MS = 10 * 60_000;
const POLL_INTERVAL_MS = 5_000;
const BATCH = 20;

/** The slice of pino the outbox logs with. */
export interface MailLogger {
  info(object: Record<string, unknown>, message: string): void;
  error(object: Record<string, unknown>, message: string): void;
}

export interface MailOutboxOptions {
  readonly smtpUrl: string | undefined;
  readonly from: string;
  readonly outboxDir: string;
}

export interface MailOutbox {
  /** Queues a message; it is sent by the worker (or `runOnce`). Returns the outbox row id. */
  enqueue(mail: OutgoingMail): Promise<string>;
  /** Sends every message due now; resolves when they are sent, rescheduled or failed. */
  runOnce(): Promise<void>;
  /** Starts the background worker (idempotent). */
  start(): void;
  /** Stops the worker and waits for a send in progress. */
  stop(): Promise<void>;
  /** Where log lines go: the server's logger, once it exists. */
  useLogger(logger: MailLogger): void;
  /** `smtp` or `file`, for the start-up log line. */
  readonly mode: 'smtp' | 'file';
}

interface Deliverer {
  deliver(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** A transport error for the outbox row and logs: codes and the server's words, no long secrets. */
export function describeMailError(error: unknown): string {
  const e = error as { code?: unknown; responseCode?: unknown; message?: unknown } | null;
  const parts = [e?.code, e?.responseCode].filter((p) => typeof p === 'string' || typeof p === 'number');
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return `${parts.length > 0 ? `${parts.join(' ')}: ` : ''}${message}`
    .replace(/[A-Za-z0-9_-]{32,}/g, '[redacted]')
    .slice(0, 300);
}

function fileName(now: number, to: string, suffix: string): string {
  const time = new Date(now).toISOString().replace(/:/g, '-');
  const safeTo = to.replace(/[^A-Za-z0-9@._+-]/g, '_').slice(0, 120);
  return `${time}-${safeTo}${suffix}.eml`;
}

function createDeliverer(options: MailOutboxOptions, clock: Clock, log: () => MailLogger): Deliverer {
  if (options.smtpUrl !== undefined) {
    const transport = nodemailer.createTransport({
      url: options.smtpUrl,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 60_000,
    });
    return {
      async deliver(mail) {
        await transport.sendMail({ from: options.from, ...mail });
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  return {
    async deliver(mail) {
      const info = await transport.sendMail({ from: options.from, ...mail });
      await mkdir(options.outboxDir, { recursive: true });
      // Written whole under a hidden name, then linked into place: a reader of the directory never
      // sees a partial message, and a name already taken is never overwritten.
      const partial = join(options.outboxDir, `.${info.messageId.replace(/[^A-Za-z0-9.@-]/g, '')}.partial`);
      await writeFile(partial, info.message as Buffer, { flag: 'wx' });
      let path = join(options.outboxDir, fileName(clock.now(), mail.to, ''));
      try {
        await hardLink(partial, path);
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw error;
        path = join(options.outboxDir, fileName(clock.now(), mail.to, `-${info.messageId.slice(1, 9)}`));
        await hardLink(partial, path);
      } finally {
        await unlink(partial);
      }
      // Development only (no SMTP configured): the spec asks for the link in the log so a
      // developer can click through. With SMTP, no part of a message is ever logged.
      const link = /https?:\/\/[^\s<>"]+/.exec(mail.text)?.[0];
      log().info({ to: mail.to, file: path, ...(link ? { link } : {}) }, 'mail written to the outbox');
    },
    close: () => transport.close(),
  };
}

export function createMailOutbox(deps: {
  store: Store;
  clock: Clock;
  options: MailOutboxOptions;
}): MailOutbox {
  const { store, clock, options } = deps;
  let logger: MailLogger = { info: () => {}, error: () => {} };
  const deliverer = createDeliverer(options, clock, () => logger);
  let timer: NodeJS.Timeout | undefined;

  async function sendOne(mail: { id: string; attempts: number } & OutgoingMail): Promise<void> {
    try {
      await deliverer.deliver(mail);
      await markMailSent(store.db, mail.id, clock.now());
    } catch (error) {
      const reason = describeMailError(error);
      if (mail.attempts >= MAIL_MAX_ATTEMPTS) {
        await markMailFailed(store.db, mail.id, reason);
        logger.error(
          { mail_id: mail.id, attempts: mail.attempts, error: reason },
          'mail could not be delivered; marked failed',
        );
        return;
      }
      const delayMs = MAIL_RETRY_BASE_MS * 2 ** (mail.attempts - 1);
      await scheduleMailRetry(store.db, mail.id, clock.now() + delayMs, reason);
      logger.info(
        { mail_id: mail.id, attempts: mail.attempts, retry_in_s: delayMs / 1000, error: reason },
        'mail delivery failed; will retry',
      );
    }
  }

  async function drain(): Promise<void> {
    for (;;) {
      const batch = await claimDueMail(store.db, clock.now(), BATCH, CLAIM_LEASE_MS);
      for (const mail of batch) await sendOne(mail);
      if (batch.length < BATCH) return;
    }
  }

  const { runOnce, settled } = serialRuns(drain);

  function tick(): void {
    if (timer === undefined) return;
    runOnce().catch((error: unknown) => {
      // A database outage is reported at warn by /readyz and the requests; the next tick retries.
      if (error instanceof DatabaseUnavailableError)
        logger.info({ reason: error.reason }, 'mail outbox run skipped: database unavailable');
      else logger.error({ error: describeMailError(error) }, 'mail outbox run failed');
    });
  }

  return {
    mode: options.smtpUrl === undefined ? 'file' : 'smtp',
    async enqueue(mail) {
      const id = await insertMail(store.db, mail, clock.now());
      if (timer !== undefined) setImmediate(tick);
      return id;
    },
    runOnce,
    start() {
      if (timer !== undefined) return;
      timer = setInterval(tick, POLL_INTERVAL_MS);
      timer.unref();
      setImmediate(tick);
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await settled();
      deliverer.close();
    },
    useLogger(next) {
      logger = next;
    },
  };
}
