/**
 * Emailed links: a 256-bit random token of which only a SHA-256 hash is stored, bound to one
 * purpose and address, and the mail that carries it. Built before the account service, so
 * registration sends its verification mail itself.
 */
import type { Clock } from '../clock.ts';
import type { MailOutbox } from '../mail/outbox.ts';
import type { MailTemplateName, MailTemplates, TemplateVars } from '../mail/templates.ts';
import type { Store } from '../store/db.ts';
import { insertEmailToken } from '../store/email-tokens.ts';
import type { EmailTokenPurpose } from '../store/schema.ts';
import type { UserRecord } from '../store/users.ts';
import { hashSecret, randomSecret } from './secrets.ts';

export interface EmailLinkOptions {
  /** Where the links point: the public URL with the plugin's prefix. */
  readonly publicUrl: string;
  readonly appName: string;
  readonly verifyTokenTtlSeconds: number;
  readonly resetTokenTtlSeconds: number;
  readonly magicLinkTtlSeconds: number;
}

export interface EmailLinks {
  enqueueTemplate(to: string, name: MailTemplateName, vars: TemplateVars): Promise<void>;
  /** Stores a new token and queues its link to `to`. */
  sendLink(
    purpose: EmailTokenPurpose,
    to: string,
    binding: { userId: string | null; email: string; newEmail?: string },
    username: string,
    extra?: TemplateVars,
  ): Promise<void>;
  /** Queues a verification link to the user's address; nothing when it is verified already. */
  sendVerification(user: UserRecord): Promise<void>;
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The stored hash of an emailed token, or undefined when the token cannot be one. */
export function hashEmailToken(token: string): string | undefined {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  return hashSecret(token);
}

/** `30 minutes`, `24 hours`, `1 day`: for the mail's "expires in". */
export function describeDuration(seconds: number): string {
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

const LINK_PATH: Record<EmailTokenPurpose, string> = {
  verify: '/verify-email',
  reset: '/reset-password',
  magic: '/magic-link',
  email_change: '/confirm-email',
};
const TEMPLATE_OF: Record<EmailTokenPurpose, MailTemplateName> = {
  verify: 'verify-email',
  reset: 'reset-password',
  magic: 'magic-link',
  email_change: 'confirm-email',
};

export function createEmailLinks(deps: {
  store: Store;
  mail: MailOutbox;
  templates: MailTemplates;
  clock: Clock;
  options: EmailLinkOptions;
}): EmailLinks {
  const { store, mail, templates, clock, options } = deps;
  const ttlSeconds: Record<EmailTokenPurpose, number> = {
    verify: options.verifyTokenTtlSeconds,
    reset: options.resetTokenTtlSeconds,
    magic: options.magicLinkTtlSeconds,
    email_change: options.verifyTokenTtlSeconds,
  };

  async function enqueueTemplate(to: string, name: MailTemplateName, vars: TemplateVars): Promise<void> {
    await mail.enqueue({ to, ...templates.render(name, { app_name: options.appName, ...vars }) });
  }

  async function sendLink(
    purpose: EmailTokenPurpose,
    to: string,
    binding: { userId: string | null; email: string; newEmail?: string },
    username: string,
    extra: TemplateVars = {},
  ): Promise<void> {
    const value = randomSecret();
    const now = clock.now();
    const ttl = ttlSeconds[purpose];
    await insertEmailToken(store.db, {
      tokenHash: hashSecret(value),
      purpose,
      userId: binding.userId,
      email: binding.email,
      newEmail: binding.newEmail ?? null,
      expiresAt: now + ttl * 1000,
      createdAt: now,
    });
    await enqueueTemplate(to, TEMPLATE_OF[purpose], {
      link: `${options.publicUrl}${LINK_PATH[purpose]}?token=${value}`,
      username,
      expires_in: describeDuration(ttl),
      ...extra,
    });
  }

  return {
    enqueueTemplate,
    sendLink,
    async sendVerification(user) {
      if (user.emailVerified) return;
      await sendLink('verify', user.email, { userId: user.id, email: user.email }, user.username, {
        // The reader may not be who registered: the mail tells them how to take the account over.
        forgot_link: `${options.publicUrl}/forgot-password`,
      });
    },
  };
}
