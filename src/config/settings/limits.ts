/** Settings: state shared through Redis, client addresses behind proxies, rate limits and login throttling. */
import {
  countOrOff,
  integer,
  list,
  proxyAddress,
  rateLimit,
  SettingError,
  serviceUrl,
  text,
} from '../parsers.ts';
import { setting } from '../setting.ts';

function redisPrefix(value: string): string {
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(value)) {
    throw new SettingError('must be 1 to 64 letters, digits or : _ . -');
  }
  return value;
}

export const LIMIT_SETTINGS = [
  setting({
    env: 'GATEHOUSE_REDIS_URL',
    key: 'redisUrl',
    description:
      '`redis://[user:pass@]host:port[/db]` or `rediss://…`: rate-limit counters and revocations shared by every process; unset: one process, in memory.',
    defaultText: '(unset)',
    type: text(serviceUrl(['redis:', 'rediss:'], 'must be a redis:// or rediss:// URL')),
    default: () => undefined,
  }),
  setting({
    env: 'GATEHOUSE_REDIS_PREFIX',
    key: 'redisPrefix',
    description: 'Prefix of every Redis key and channel, so several deployments can share one Redis.',
    defaultText: 'gatehouse:',
    type: text(redisPrefix),
  }),
  setting({
    env: 'GATEHOUSE_TRUST_PROXY',
    key: 'trustProxy',
    description:
      'Comma-separated proxies (IPs, CIDRs, `loopback`, `uniquelocal`) whose `X-Forwarded-For` gives the client IP; unset: the socket address, and the header is ignored.',
    defaultText: '(unset)',
    type: list(proxyAddress),
    default: () => [],
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_TOKEN',
    key: 'rateLimitToken',
    description:
      'Requests per client IP to `POST /token` (both grants), as `<requests>/<duration>`, or `off`. Over it: 429 with `Retry-After`.',
    defaultText: '30/1m',
    type: rateLimit,
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_LOGIN',
    key: 'rateLimitLogin',
    description: 'Requests per client IP to `POST /login` and `POST /reauthenticate`.',
    defaultText: '30/1m',
    type: rateLimit,
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_REGISTER',
    key: 'rateLimitRegister',
    description: 'Requests per client IP to `POST /register`.',
    defaultText: '10/1h',
    type: rateLimit,
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_BASIC',
    key: 'rateLimitBasic',
    description: 'Requests per client IP to `GET /protected/basic` (HTTP Basic checks a password each time).',
    defaultText: '30/1m',
    type: rateLimit,
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_IPV6_PREFIX',
    key: 'rateLimitIpv6Prefix',
    description:
      'Per-client limits and the failed-login throttle count an IPv6 client by its network of this many bits (one subscriber gets a whole /64 or more); IPv4-mapped IPv6 counts as IPv4. 128: each address alone.',
    defaultText: '64',
    type: integer(16, 128),
  }),
  setting({
    env: 'GATEHOUSE_LOGIN_MAX_FAILURES',
    key: 'loginMaxFailures',
    description:
      'Failed logins for one account from one client IP within 15 minutes before that pair is blocked (1 minute, doubling on each further failure up to 15). `off` turns the whole failed-login throttle off.',
    defaultText: '5',
    type: countOrOff(1, 100),
  }),
  setting({
    env: 'GATEHOUSE_LOGIN_ACCOUNT_MAX_FAILURES',
    key: 'loginAccountMaxFailures',
    description:
      'Failed logins for one account from all IPs within 15 minutes before clients that failed get one attempt a minute between them; `off` turns this slow-down off.',
    defaultText: '20',
    type: countOrOff(1, 100),
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_MAIL',
    key: 'rateLimitMail',
    description:
      'Requests per client IP to every route that sends mail (`/verify/request`, `/forgot-password`, `/magic-link`, `PATCH /users/me`).',
    defaultText: '10/1h',
    type: rateLimit,
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS',
    key: 'rateLimitMailAddress',
    description:
      'Mails asked anonymously for one address (reset, magic link) from all clients together; counted whether or not an account has it. A signed-in user asking for their own account (verification, email change) is not counted here.',
    defaultText: '20/1h',
    type: rateLimit,
  }),
  setting({
    env: 'GATEHOUSE_RATE_LIMIT_MAIL_ADDRESS_IP',
    key: 'rateLimitMailAddressIp',
    description:
      "Mails asked for one address by one requester: one client IP, or one signed-in user for their own account, so nobody else's requests use up a user's budget.",
    defaultText: '3/1h',
    type: rateLimit,
  }),
];
