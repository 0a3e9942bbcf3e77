/**
 * Secrets at rest (AES-256-GCM under GATEHOUSE_ENCRYPTION_KEY): a key list rotates, a ciphertext
 * is bound to its row, a changed one does not decrypt, and the server refuses to start without a
 * key once authenticator-app secrets are stored.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSecretBox } from '../../src/auth/encryption.ts';
import { loadConfig } from '../../src/config.ts';
import { createGatehouse } from '../../src/gatehouse.ts';
import { buildServer } from '../../src/server.ts';
import { bearer, ENCRYPTION_KEY, passwordTokens } from '../factors/support.ts';
import { FAST_ARGON2, registerUser } from '../support/gatehouse.ts';

const OLD = randomBytes(32).toString('hex');
const NEW = randomBytes(32).toString('base64');

test('a secret encrypted under the old key still decrypts after a new key is put first; new secrets use the new key', () => {
  const before = createSecretBox([OLD]);
  const sealed = before.encrypt('JBSWY3DPEHPK3PXP', 'totp:u:f');
  assert.ok(!sealed.includes('JBSWY3DPEHPK3PXP'));
  const rotated = createSecretBox([NEW, OLD]);
  assert.equal(rotated.decrypt(sealed, 'totp:u:f'), 'JBSWY3DPEHPK3PXP');
  const resealed = rotated.encrypt('JBSWY3DPEHPK3PXP', 'totp:u:f');
  assert.notEqual(resealed.split('.')[1], sealed.split('.')[1], 'names another key');
  assert.throws(() => createSecretBox([NEW]).decrypt(sealed, 'totp:u:f'), /no configured encryption key/);
});

test('a ciphertext moved to another row, or changed, does not decrypt', () => {
  const box = createSecretBox([OLD]);
  const sealed = box.encrypt('secret', 'totp:alice:1');
  assert.throws(() => box.decrypt(sealed, 'totp:mallory:1'));
  const parts = sealed.split('.');
  const body = Buffer.from(parts[3] ?? '', 'base64url');
  body[0] = (body[0] ?? 0) ^ 1;
  parts[3] = body.toString('base64url');
  assert.throws(() => box.decrypt(parts.join('.'), 'totp:alice:1'));
});

test('GATEHOUSE_ENCRYPTION_KEY takes a comma-separated list of 256-bit keys; a malformed one is a setting error', async () => {
  assert.throws(
    () => loadConfig({ GATEHOUSE_ENCRYPTION_KEY: 'short' }),
    /GATEHOUSE_ENCRYPTION_KEY must be 256-bit keys/,
  );
  assert.deepEqual(loadConfig({ GATEHOUSE_ENCRYPTION_KEY: `${OLD}, ${NEW}` }).encryptionKeys, [OLD, NEW]);
});

test('without the key enrolling an app is 503 MFA_UNAVAILABLE; once an app secret is stored, the server refuses to start without a key that reads it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-encryption-'));
  const env = {
    GATEHOUSE_DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
    GATEHOUSE_ISSUER: 'http://gatehouse.test',
    GATEHOUSE_LOG_LEVEL: 'silent',
    GATEHOUSE_OUTBOX_DIR: dir,
    ...FAST_ARGON2,
  };
  try {
    const without = await createGatehouse(loadConfig(env));
    const plainApp = await buildServer(without);
    await registerUser(plainApp, 'alice');
    const refused = await plainApp.inject({
      method: 'POST',
      url: '/users/me/factors/totp',
      headers: bearer((await passwordTokens(plainApp, 'alice')).access_token),
      payload: {},
    });
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(refused.json().code, 'MFA_UNAVAILABLE');
    await plainApp.close();
    await without.close();

    const keyed = await createGatehouse(loadConfig({ ...env, GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY }));
    const app = await buildServer(keyed);
    const enrolled = await app.inject({
      method: 'POST',
      url: '/users/me/factors/totp',
      headers: bearer((await passwordTokens(app, 'alice')).access_token),
      payload: {},
    });
    assert.equal(enrolled.statusCode, 201, enrolled.body);
    await app.close();
    await keyed.close();
    await assert.rejects(createGatehouse(loadConfig(env)), /GATEHOUSE_ENCRYPTION_KEY is required/);
    // Another key alone (a rotation that dropped the old one) is refused at start, not at sign-in.
    const other = { ...env, GATEHOUSE_ENCRYPTION_KEY: OLD };
    await assert.rejects(createGatehouse(loadConfig(other)), /put the new key first and keep the old one/);
    const rotated = await createGatehouse(
      loadConfig({ ...env, GATEHOUSE_ENCRYPTION_KEY: `${OLD},${ENCRYPTION_KEY}` }),
    );
    await rotated.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
