/** Settings: how mail is sent, and the links it carries. */
import { duration, existingDirectory, flag, SettingError, serviceUrl, text } from '../parsers.ts';
import { setting } from '../setting.ts';

function mailFrom(raw: string): string {
  const value = raw.trim();
  if (value.length > 254 || /\p{Cc}/u.test(value) || !value.includes('@')) {
    throw new SettingError('must be an address such as "Example <no-reply@example.com>"');
  }
  return value;
}

export const MAIL_SETTINGS = [
  setting({
    env: 'GATEHOUSE_SMTP_URL',
    key: 'smtpUrl',
    description:
      '`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`: send mail through this server. Unset: mail is written to the outbox directory. Its password is never logged.',
    defaultText: '(unset)',
    type: text(serviceUrl(['smtp:', 'smtps:'], 'must be an smtp:// or smtps:// URL', { requireHost: true })),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_MAIL_FROM',
    key: 'mailFrom',
    description: 'The sender of every mail.',
    defaultText: 'Gatehouse <no-reply@localhost>',
    type: text(mailFrom),
  }),
  setting({
    env: 'GATEHOUSE_OUTBOX_DIR',
    key: 'outboxDir',
    description:
      'Without SMTP, each mail is written here as `<time>-<to>.eml` and its link is logged (development).',
    defaultText: './data/outbox',
    type: text(),
  }),
  setting({
    env: 'GATEHOUSE_MAIL_TEMPLATES_DIR',
    key: 'mailTemplatesDir',
    description:
      'A directory of mail templates (`<name>.subject.txt`, `<name>.txt`, `<name>.html`) that replace the built-in ones file by file.',
    defaultText: '(unset)',
    type: text(existingDirectory),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_REQUIRE_VERIFIED_EMAIL',
    key: 'requireVerifiedEmail',
    description:
      '`true` refuses login until the email is verified (400 `Email not verified`). External sign-in too, where an address the provider vouches for (trusted to verify, and verified) counts as verified; an account made from another address is sent a verification link.',
    defaultText: 'false',
    type: flag,
  }),
  setting({
    env: 'GATEHOUSE_VERIFY_TOKEN_TTL',
    key: 'verifyTokenTtlSeconds',
    description: 'Lifetime of email verification and email change links.',
    defaultText: '24h',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_RESET_TOKEN_TTL',
    key: 'resetTokenTtlSeconds',
    description: 'Lifetime of password reset links.',
    defaultText: '30m',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_MAGIC_LINK_TTL',
    key: 'magicLinkTtlSeconds',
    description: 'Lifetime of magic sign-in links.',
    defaultText: '15m',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_MAGIC_LINK_SIGNUP',
    key: 'magicLinkSignup',
    description:
      '`true`: a magic link asked for an unknown address creates the account when used (only while registration is open).',
    defaultText: 'false',
    type: flag,
  }),
];
