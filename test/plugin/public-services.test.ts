/**
 * `app.gatehouse.services` is the public surface of the services: what an embedding app calls
 * in-process. The store, the key ring and the password hasher stay inside.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { gatehouse } from '../../src/index.ts';

test('app.gatehouse.services lists the public services only, never the store, keys or hasher', async () => {
  const app = Fastify();
  try {
    await app.register(gatehouse, {
      databaseUrl: 'sqlite::memory:',
      issuer: 'https://api.example.com',
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
    });
    await app.ready();
    const { services } = app.gatehouse;
    assert.deepEqual(Object.keys(services).sort(), [
      'accounts',
      'apiKeys',
      'audit',
      'clients',
      'emailFlows',
      'externalSignIn',
      'factors',
      'metrics',
      'roles',
      'sessions',
      'tokenIntrospection',
      'userAdmin',
    ]);
    for (const internal of ['store', 'keys', 'hasher', 'config', 'mail', 'redis', 'tokens']) {
      assert.equal(internal in services, false, `${internal} is not exposed`);
    }
    assert.ok(Object.isFrozen(services));
  } finally {
    await app.close();
  }
});
