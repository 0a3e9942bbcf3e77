/** Settings: where the server listens, its database, and the names and URLs it goes by. */
import { displayName, duration, httpUrl, integer, oneOf, onOff, SettingError, text } from '../parsers.ts';
import { type Settled, setting } from '../setting.ts';

function databaseUrl(value: string): string {
  if (/^sqlite:\s*$/.test(value)) {
    throw new SettingError(
      'names no file: use sqlite:<path> (e.g. sqlite:./data/gatehouse.db) or sqlite::memory:',
    );
  }
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(value)) {
    throw new SettingError('must start with sqlite: or postgres://');
  }
  return value;
}

/** The issuer when none is set: the address the server listens on, as a browser on this machine reaches it. */
function issuerOfAddress(settled: Settled): string {
  const host = settled.host === '0.0.0.0' || settled.host === '::' ? '127.0.0.1' : String(settled.host);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return `http://${shownHost}:${String(settled.port)}`;
}

export const SERVER_SETTINGS = [
  setting({
    env: 'GATEHOUSE_HOST',
    key: 'host',
    description:
      'Interface the server listens on. `localhost` listens on every loopback address the name resolves to (127.0.0.1 and ::1 on most machines); `0.0.0.0` on every IPv4 interface.',
    defaultText: 'localhost',
    type: text(),
  }),
  setting({
    env: 'GATEHOUSE_PORT',
    key: 'port',
    description:
      'TCP port the server listens on (0 picks a free port). When unset, `PORT` is used if set (hosting platforms set it).',
    defaultText: '8000',
    type: integer(0, 65535),
    fallbackEnv: 'PORT',
  }),
  setting({
    env: 'GATEHOUSE_DATABASE_URL',
    key: 'databaseUrl',
    description: '`sqlite:<path>`, `sqlite::memory:` or `postgres://user@host:port/db`.',
    defaultText: 'sqlite:./data/gatehouse.db',
    type: text(databaseUrl),
  }),
  setting({
    env: 'GATEHOUSE_DATABASE_POOL_MAX',
    key: 'databasePoolMax',
    description:
      "PostgreSQL connections per process. Every process opens up to this many: keep processes × this below the server's `max_connections`.",
    defaultText: '10',
    type: integer(1, 1000),
  }),
  setting({
    env: 'GATEHOUSE_DATABASE_STATEMENT_TIMEOUT',
    key: 'databaseStatementTimeoutSeconds',
    description:
      'Longest a query may take: PostgreSQL cancels it (`statement_timeout`) and Gatehouse stops waiting, answering 503; on SQLite, the longest wait for a lock held by another process. Migrations are exempt.',
    defaultText: '2s',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_DATABASE_CONNECT_TIMEOUT',
    key: 'databaseConnectTimeoutSeconds',
    description: 'PostgreSQL: longest wait for a connection, new or from a busy pool, before answering 503.',
    defaultText: '2s',
    type: duration,
  }),
  setting({
    env: 'GATEHOUSE_SQLITE_SYNCHRONOUS',
    key: 'sqliteSynchronous',
    description:
      'SQLite durability (WAL mode): `normal` keeps every answered write through a crash or kill of the process; `full` also through a power loss, at ~2 ms of fsync per commit.',
    defaultText: 'normal',
    type: oneOf(['normal', 'full']),
  }),
  setting({
    env: 'GATEHOUSE_ISSUER',
    key: 'issuer',
    description: 'The `iss` claim and the base of the discovery URLs.',
    defaultText: 'http://<host>:<port>',
    type: text(httpUrl),
    default: issuerOfAddress,
  }),
  setting({
    env: 'GATEHOUSE_AUDIENCE',
    key: 'audience',
    description: 'The `aud` claim of access tokens, required when verifying.',
    defaultText: 'the issuer',
    type: text(),
    default: (settled) => String(settled.issuer),
  }),
  setting({
    env: 'GATEHOUSE_PUBLIC_URL',
    key: 'publicUrl',
    description:
      "The base of every link Gatehouse sends by email or redirects a browser to; its host is the passkeys' relying party. When its host is `localhost`, a browser opening a page at 127.0.0.1 or [::1] on its port is sent to the same page here (browsers refuse passkeys on an IP address).",
    defaultText: 'the issuer',
    type: text(httpUrl),
    default: (settled) => String(settled.issuer),
  }),
  setting({
    env: 'GATEHOUSE_APP_NAME',
    key: 'appName',
    description: 'The name shown in page titles and emails.',
    defaultText: 'Gatehouse',
    type: text(displayName(80)),
  }),
  setting({
    env: 'GATEHOUSE_PAGES',
    key: 'pages',
    description:
      'The hosted HTML pages (`/login`, `/register`, `/account`, …): `on` or `off` (an embedding app with its own pages).',
    defaultText: 'on',
    type: onOff,
  }),
];
