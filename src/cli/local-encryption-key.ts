/**
 * The encryption key of a `gatehouse` command on a SQLite file database with no
 * GATEHOUSE_ENCRYPTION_KEY: `encryption.key` beside the database, made by the first `serve`, so a
 * fresh `npm start` can enrol authenticator apps. One machine holds both the database and this
 * file, so every process on that database reads the same key. PostgreSQL (several machines) and
 * `sqlite::memory:` never get one: there the key is the operator's to set.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEncryptionKey } from '../auth/encryption.ts';
import { CliError, EXIT } from './exit-codes.ts';
import { sqliteFileOf } from './preflight.ts';

const KEY_FILE_NAME = 'encryption.key';

export interface LocalEncryptionKey {
  /** The key as GATEHOUSE_ENCRYPTION_KEY takes it (64 hex digits). */
  readonly key: string;
  readonly path: string;
  /** Made by this call (the first start). */
  readonly created: boolean;
}

function readKeyFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(EXIT.failure, `cannot read the encryption key ${path} (${String(error)})`);
  }
  if (parseEncryptionKey(text) === undefined) {
    throw new CliError(
      EXIT.config,
      `${path} holds no 256-bit key (64 hex digits): restore it, or set GATEHOUSE_ENCRYPTION_KEY`,
    );
  }
  return text.trim();
}

/**
 * Writes a new key to `path` readable by its owner only, all at once: written to a file of its
 * own, then linked to the name, which fails when another process got there first (its key wins).
 */
function createKeyFile(path: string): boolean {
  const temporary = join(dirname(path), `.${KEY_FILE_NAME}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
  // The name must outlive a crash as the secrets it encrypts do.
  const directory = openSync(dirname(path), 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
  return true;
}

/**
 * The key file's key when this command uses one: no key is configured and the database is a
 * SQLite file. `mayCreate` (serve) makes the file when there is none; other commands only read it.
 */
export function localEncryptionKey(
  databaseUrl: string,
  configuredKeys: readonly string[],
  mayCreate: boolean,
): LocalEncryptionKey | undefined {
  const database = sqliteFileOf(databaseUrl);
  if (configuredKeys.length > 0 || database === undefined) return undefined;
  const path = join(dirname(database), KEY_FILE_NAME);
  const existing = readKeyFile(path);
  if (existing !== undefined) return { key: existing, path, created: false };
  if (!mayCreate) return undefined;
  let created: boolean;
  try {
    created = createKeyFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new CliError(EXIT.cannotCreate, `cannot create the encryption key ${path} (${code})`);
  }
  const key = readKeyFile(path);
  if (key === undefined) throw new CliError(EXIT.failure, `the encryption key ${path} vanished`);
  return { key, path, created };
}

/** `config` with the key file's key as its encryption key, when `localEncryptionKey` gives one. */
export function withLocalEncryptionKey<C extends { databaseUrl: string; encryptionKeys: readonly string[] }>(
  config: C,
  mayCreate: boolean,
): { config: C; localKey: LocalEncryptionKey | undefined } {
  const localKey = localEncryptionKey(config.databaseUrl, config.encryptionKeys, mayCreate);
  if (localKey === undefined) return { config, localKey };
  return { config: Object.freeze({ ...config, encryptionKeys: [localKey.key] }), localKey };
}

/**
 * The start-up line about the key: where the key file is (never the key) and what production does
 * instead; or, with no key at all (PostgreSQL), that authenticator apps are unavailable.
 */
export function encryptionKeyNotice(
  configuredKeys: readonly string[],
  localKey: LocalEncryptionKey | undefined,
): string | undefined {
  if (localKey !== undefined) {
    return `${localKey.created ? 'created' : 'using'} the encryption key in ${localKey.path}, as GATEHOUSE_ENCRYPTION_KEY is unset; in production set GATEHOUSE_ENCRYPTION_KEY instead (list this key in it to keep reading what it encrypted)`;
  }
  if (configuredKeys.length > 0) return undefined;
  return 'GATEHOUSE_ENCRYPTION_KEY is unset: authenticator apps cannot be added (503 MFA_UNAVAILABLE) until it is';
}
