/** A test app that sends its mail to a real SMTP server (test/support/smtp.ts). */
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from './gatehouse.ts';
import { startSmtpServer, type TestSmtpServer } from './smtp.ts';

export const PUBLIC_URL = 'http://app.test';

export interface MailApp {
  readonly t: TestApp;
  readonly smtp: TestSmtpServer;
  /** Queues what the background decided and sends every due message to the SMTP server. */
  deliver(): Promise<void>;
  post(url: string, payload: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export async function withMailApp(
  databaseUrl: string | undefined,
  env: Record<string, string>,
  run: (m: MailApp) => Promise<void>,
): Promise<void> {
  const smtp = await startSmtpServer();
  const t = await createTestApp({
    databaseUrl,
    env: { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_PUBLIC_URL: PUBLIC_URL, ...env },
  }).catch(async (error: unknown) => {
    await smtp.close();
    throw error;
  });
  try {
    await run({
      t,
      smtp,
      async deliver() {
        await t.gatehouse.emailFlows.settled();
        await t.gatehouse.mail.runOnce();
      },
      post: (url, payload, headers = {}) =>
        t.app.inject({ method: 'POST', url, payload: payload as object, headers }),
    });
  } finally {
    await t.close();
    await smtp.close();
  }
}

/** `POST /token` with a form body. */
export const tokenGrant = (t: TestApp, form: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(form).toString(),
  });
