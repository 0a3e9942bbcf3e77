/**
 * A real SMTP server in the test process (smtp-server), on a port the OS picks. It keeps every
 * message it accepted, parsed by mailparser, and can be told to refuse mail.
 */
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtpServer {
  readonly port: number;
  /** `smtp://…` for GATEHOUSE_SMTP_URL, with the credentials when auth is on. */
  readonly url: string;
  readonly messages: ParsedMail[];
  /** While true, every recipient is refused with a 550. */
  rejecting: boolean;
  close(): Promise<void>;
}

export async function startSmtpServer(
  options: { user?: string; pass?: string } = {},
): Promise<TestSmtpServer> {
  const messages: ParsedMail[] = [];
  const withAuth = options.user !== undefined;
  const state = { rejecting: false };
  const server = new SMTPServer({
    disabledCommands: withAuth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !withAuth,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(new Error('Invalid username or password'));
      }
    },
    onRcptTo(_address, _session, callback) {
      if (state.rejecting) {
        const error = new Error('Mailbox unavailable') as Error & { responseCode: number };
        error.responseCode = 550;
        callback(error);
        return;
      }
      callback();
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const auth = withAuth
    ? `${encodeURIComponent(options.user ?? '')}:${encodeURIComponent(options.pass ?? '')}@`
    : '';
  return {
    port,
    url: `smtp://${auth}127.0.0.1:${port}`,
    messages,
    get rejecting() {
      return state.rejecting;
    },
    set rejecting(value: boolean) {
      state.rejecting = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The token of the first link to `path` in a message's text. */
export function tokenFrom(mail: ParsedMail | undefined, path: string): string {
  if (mail === undefined) throw new Error(`no mail with a ${path} link`);
  const match = new RegExp(`${path.replace(/[/?]/g, '\\$&')}\\?token=([A-Za-z0-9_-]+)`).exec(mail.text ?? '');
  if (!match?.[1]) throw new Error(`no ${path} link in: ${mail.text}`);
  return match[1];
}

/** Messages to one address. */
export function mailTo(messages: readonly ParsedMail[], address: string): ParsedMail[] {
  return messages.filter((m) => {
    const to = Array.isArray(m.to) ? m.to : m.to ? [m.to] : [];
    return to.some((a) => a.value.some((v) => v.address?.toLowerCase() === address.toLowerCase()));
  });
}
