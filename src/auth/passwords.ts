/**
 * Password policy (NIST SP 800-63B §3.1.1.2, ASVS 6.2) and hashing: argon2id for new hashes,
 * bcrypt accepted for imported ones, anything not current rehashed on the next login.
 */
import { readFileSync } from 'node:fs';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';
import { InvalidFieldError, OverloadedError } from './errors.ts';

export const PASSWORD_MAX_LENGTH = 128;

// The 10,000 most frequent passwords of the zxcvbn-ts common list (MIT), in order.
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean),
);

export function isCommonPassword(password: string): boolean {
  return COMMON_PASSWORDS.has(password.normalize('NFKC').toLowerCase());
}

/** Throws InvalidFieldError on `field` (the request's name for the new password) naming the broken rule. */
export function checkPasswordPolicy(
  password: string,
  minLength: number,
  identifiers: { username?: string; email?: string },
  field: 'password' | 'new_password' = 'password',
): void {
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < minLength) {
    throw new InvalidFieldError(field, `Password must be at least ${minLength} characters`, 'too_short');
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw new InvalidFieldError(
      field,
      `Password must be at most ${PASSWORD_MAX_LENGTH} characters`,
      'too_long',
    );
  }
  const lowered = normalized.toLowerCase();
  for (const identifier of [identifiers.username, identifiers.email]) {
    if (identifier !== undefined && lowered === identifier.normalize('NFKC').toLowerCase()) {
      throw new InvalidFieldError(
        field,
        'Password must not be the same as the username or email',
        'same_as_identifier',
      );
    }
  }
  if (COMMON_PASSWORDS.has(lowered)) {
    throw new InvalidFieldError(field, 'Password is too common; choose a less guessable one', 'too_common');
  }
}

export interface Argon2Parameters {
  readonly memoryKib: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/**
 * Runs at most `limit` tasks at once; the rest wait in arrival order. When `maxWaiting` already
 * wait, a new task is refused with OverloadedError (503) instead of queueing without end.
 */
export class ConcurrencyLimiter {
  readonly #limit: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number, maxWaiting = Number.POSITIVE_INFINITY) {
    this.#limit = limit;
    this.#maxWaiting = maxWaiting;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      if (this.#waiting.length >= this.#maxWaiting) throw new OverloadedError(1);
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * True when `password` matches `storedHash`; false for a wrong password, an unknown hash format
   * or no password at all (null, checked against a dummy hash so it takes the same time).
   */
  verify(storedHash: string | null, password: string): Promise<boolean>;
  /** True when `storedHash` is not argon2id with the current parameters. */
  needsRehash(storedHash: string): boolean;
  /** Burns the same time as a real verify, for unknown users. */
  verifyDummy(password: string): Promise<void>;
  /** Password checks started so far (real and dummy): proof that a refused login cost no hash. */
  readonly verifications: number;
}

export async function createPasswordHasher(
  params: Argon2Parameters,
  concurrency: number,
  maxWaiting = Number.POSITIVE_INFINITY,
): Promise<PasswordHasher> {
  const limiter = new ConcurrencyLimiter(concurrency, maxWaiting);
  const options = {
    // Algorithm.Argon2id; the package's enum is an ambient const enum, unusable under verbatimModuleSyntax.
    algorithm: 2,
    memoryCost: params.memoryKib,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  };
  const currentPrefix = `$argon2id$v=19$m=${params.memoryKib},t=${params.iterations},p=${params.parallelism}$`;
  const normalize = (password: string) => password.normalize('NFKC');
  const hash = (password: string) => limiter.run(() => argon2Hash(normalize(password), options));
  let verifications = 0;
  const dummyHash = await argon2Hash('gatehouse-dummy-password', options);
  const verify = async (storedHash: string | null, password: string): Promise<boolean> => {
    verifications++;
    const normalized = normalize(password);
    if (storedHash === null) {
      await limiter.run(() => argon2Verify(dummyHash, normalized).catch(() => false));
      return false;
    }
    if (storedHash.startsWith('$argon2')) {
      return limiter.run(() => argon2Verify(storedHash, normalized).catch(() => false));
    }
    if (/^\$2[aby]\$\d\d\$/.test(storedHash)) {
      // bcrypt reads only 72 bytes; a longer password must not match a hash of its prefix.
      if (Buffer.byteLength(normalized, 'utf8') > 72) return false;
      return limiter.run(() => bcryptVerify(normalized, storedHash).catch(() => false));
    }
    return false;
  };
  return {
    hash,
    verify,
    needsRehash: (storedHash) => !storedHash.startsWith(currentPrefix),
    verifyDummy: async (password) => {
      await verify(dummyHash, password);
    },
    get verifications() {
      return verifications;
    },
  };
}
