import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  constantTimeEqual,
  hashSecret,
  newOpaqueToken,
  secretMatches,
  splitOpaqueToken,
} from '../../src/auth/secrets.ts';

describe('opaque secrets', () => {
  test('a new opaque token splits back into its id and secret, and only the secret matches its hash', () => {
    const token = newOpaqueToken();
    assert.deepEqual(splitOpaqueToken(token.value), { id: token.id, secret: token.secret });
    const stored = hashSecret(token.secret);
    assert.notEqual(stored, token.secret);
    assert.equal(secretMatches(token.secret, stored), true);
    assert.equal(secretMatches(newOpaqueToken().secret, stored), false);
  });

  test('a value that is not <22-char id>.<43-char secret> is no opaque token', () => {
    const { id, secret } = newOpaqueToken();
    for (const value of [
      '',
      id,
      `${id}.`,
      `.${secret}`,
      `${id}.${secret}.x`,
      `${id}.${secret.slice(1)}`,
      `${id}!${secret}`,
    ]) {
      assert.equal(splitOpaqueToken(value), undefined, value);
    }
  });

  test('constant-time comparison refuses other lengths and non-strings', () => {
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual('abd', 'abc'), false);
    assert.equal(constantTimeEqual('abcd', 'abc'), false);
    assert.equal(constantTimeEqual(undefined, 'abc'), false);
    assert.equal(constantTimeEqual(['abc'], 'abc'), false);
  });
});
