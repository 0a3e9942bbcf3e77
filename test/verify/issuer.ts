/**
 * A real Gatehouse listening on a local port for the verifier's tests: its JWKS is fetched over
 * HTTP as a resource server would, and its own answers are what the adapters must match.
 */

import type { LightMyRequestResponse } from 'fastify';
import type { Verifier, VerifierOptions } from '../../packages/verify/src/index.ts';
import { createVerifier } from '../../packages/verify/src/index.ts';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { createTestApp, login, registerUser, type TestApp } from '../support/gatehouse.ts';

/** What a client sees of an answer. */
export interface Answer {
  readonly status: number;
  readonly wwwAuthenticate: string | null;
  readonly contentType: string | null;
  readonly body: unknown;
}

/** The `Answer` of a Fastify `inject()` response. */
export function answerOfInjected(response: LightMyRequestResponse): Answer {
  const header = (name: string) => {
    const value = response.headers[name];
    return value === undefined ? null : String(value);
  };
  return {
    status: response.statusCode,
    wwwAuthenticate: header('www-authenticate'),
    contentType: header('content-type'),
    body: response.json(),
  };
}

export interface Issuer {
  readonly t: TestApp;
  readonly jwksUri: string;
  /** Access tokens issued by this Gatehouse. */
  readonly tokens: {
    /** alice, role `user`. */
    readonly alice: string;
    /** alice, asking for `profile:write` only. */
    readonly aliceProfileWrite: string;
    /** bob, roles `user` and `reporter` (granted `reports:read`). */
    readonly bob: string;
    /** alice, issued two hours ago: expired. */
    readonly expired: string;
  };
  /** A verifier of this issuer, options on top. */
  verifier(options?: Partial<VerifierOptions>): Verifier;
  /** How the Gatehouse server itself answers a request with this `Authorization` header. */
  serverAnswer(path: string, authorization?: string): Promise<Answer>;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<Issuer> {
  const t = await createTestApp();
  const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
  const jwksUri = `${address}/.well-known/jwks.json`;
  await registerUser(t.app, 'alice');
  const bob = await registerUser(t.app, 'bob');
  await t.gatehouse.roles.createRole(operatorActor(), 'reporter', 'Reads reports', ['reports:read']);
  await t.gatehouse.accounts.setRoles(bob.id, ['user', 'reporter']);
  t.clock.advance(-2 * 3600 * 1000);
  const expired = await login(t.app, 'alice');
  t.clock.advance(2 * 3600 * 1000);
  const tokens = {
    alice: await login(t.app, 'alice'),
    aliceProfileWrite: await login(t.app, 'alice', undefined, 'profile:write'),
    bob: await login(t.app, 'bob'),
    expired,
  };
  return {
    t,
    jwksUri,
    tokens,
    verifier: (options = {}) => createVerifier({ issuer: t.config.issuer, jwksUri, ...options }),
    async serverAnswer(path, authorization) {
      const response = await t.app.inject({
        method: 'GET',
        url: path,
        headers: authorization === undefined ? {} : { authorization },
      });
      return answerOfInjected(response);
    },
    close: () => t.close(),
  };
}
