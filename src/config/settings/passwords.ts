/** Settings: password rules, registration, and the cost and concurrency of password hashing. */
import { availableParallelism } from 'node:os';
import { integer, oneOf } from '../parsers.ts';
import { setting } from '../setting.ts';

function defaultHashConcurrency(): number {
  // One hash per core at most: more only thrashes the caches (argon2id's 19 MiB each) and takes
  // the event loop's share; and always one threadpool thread left for everything else.
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  return Math.max(1, Math.min(availableParallelism(), threadpool - 1));
}

export const PASSWORD_SETTINGS = [
  setting({
    env: 'GATEHOUSE_PASSWORD_MIN_LENGTH',
    key: 'passwordMinLength',
    description:
      'Minimum password length in code points (NIST SP 800-63B-4 asks 15 for password-only accounts).',
    defaultText: '8',
    type: integer(8, 128),
  }),
  setting({
    env: 'GATEHOUSE_REGISTRATION',
    key: 'registration',
    description: '`open` lets anyone register at `POST /register`; `closed` answers 403.',
    defaultText: 'open',
    type: oneOf(['open', 'closed']),
  }),
  setting({
    env: 'GATEHOUSE_ARGON2_MEMORY_KIB',
    key: 'argon2MemoryKib',
    description: 'argon2id memory cost in KiB (OWASP minimum 19456).',
    defaultText: '19456',
    type: integer(8, 4_194_304),
  }),
  setting({
    env: 'GATEHOUSE_ARGON2_ITERATIONS',
    key: 'argon2Iterations',
    description: 'argon2id time cost (iterations).',
    defaultText: '2',
    type: integer(1, 100),
  }),
  setting({
    env: 'GATEHOUSE_ARGON2_PARALLELISM',
    key: 'argon2Parallelism',
    description: 'argon2id lanes.',
    defaultText: '1',
    type: integer(1, 16),
  }),
  setting({
    env: 'GATEHOUSE_HASH_CONCURRENCY',
    key: 'hashConcurrency',
    description:
      'Password hashes run at once; the rest wait in order. Keep it below the libuv threadpool size (4).',
    defaultText: 'cores, at most 3',
    type: integer(1, 64),
    default: defaultHashConcurrency,
  }),
  setting({
    env: 'GATEHOUSE_HASH_QUEUE_MAX',
    key: 'hashQueueMax',
    description:
      'Password hashes that may wait for a turn; beyond it `/token`, `/login` and `/register` answer 503 with `Retry-After` instead of queueing.',
    defaultText: '64',
    type: integer(0, 100_000),
  }),
];
