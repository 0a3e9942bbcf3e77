/**
 * The audit trail of every state-changing route: the test walks the OpenAPI document's non-GET
 * operations, drives each case docs/audit-events.md lists for it, and checks that the request left
 * exactly the events listed there, each naming its actor, target, IP and user agent and holding
 * only the detail keys the event catalogue documents, never a secret.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { totpCode } from '../../src/auth/factors/totp.ts';
import { operatorActor } from '../../src/auth/privilege-ceiling.ts';
import { insertIdentity } from '../../src/store/identities.ts';
import { ENCRYPTION_KEY } from '../factors/support.ts';
import { startOidcProvider, type TestOidcProvider } from '../support/external-providers.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';
import { mailTo, startSmtpServer, type TestSmtpServer, tokenFrom } from '../support/smtp.ts';
import { createSoftAuthenticator } from '../support/soft-authenticator.ts';

const DOC = readFileSync('docs/audit-events.md', 'utf8');
const NEW_PASSWORD = 'another horse battery staple';

/** The cells of the first table after `## heading`. */
function tableUnder(heading: string): string[][] {
  const start = DOC.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `docs/audit-events.md has a "## ${heading}" section`);
  const rest = DOC.slice(start + heading.length + 5);
  const end = rest.indexOf('\n## ');
  const rows = (end === -1 ? rest : rest.slice(0, end)).split('\n').filter((line) => line.startsWith('|'));
  return rows.slice(2).map((row) =>
    row
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim()),
  );
}
const quoted = (cell: string | undefined) => [...(cell ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');

/** Event type → the detail keys it may record. */
const CATALOGUE = new Map(tableUnder('Event types').map((row) => [quoted(row[0])[0] ?? '', quoted(row[4])]));
const ROUTE_CASES = tableUnder('Events by route').map((row) => ({
  operation: quoted(row[0])[0] ?? '',
  case: row[1] ?? '',
  events: quoted(row[2]),
}));
const caseKey = (operation: string, name: string) => `${operation} | ${name}`;

interface Api {
  readonly t: TestApp;
  readonly oidc: TestOidcProvider;
  readonly smtp: TestSmtpServer;
  readonly admin: { id: string; token: string };
  /** A new user (registered by the API, address unverified) with a fresh full-scope token. */
  user(): Promise<{ id: string; username: string; email: string; token: string }>;
  /** Sends the queued mail and returns the token of the newest link to `path` sent to `address`. */
  linkToken(address: string, path: string): Promise<string>;
  send(request: InjectOptions): Promise<LightMyRequestResponse>;
  tokenGrant(form: Record<string, string>): Promise<LightMyRequestResponse>;
}

/** What a case sends and who it expects as the events' actor; `secrets` must not reach the log. */
interface Step {
  readonly request: InjectOptions;
  readonly actor: string | null;
  readonly secrets?: readonly string[];
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = (method: InjectOptions['method'], url: string, token: string | null, payload?: object) => ({
  method,
  url,
  headers: token === null ? {} : bearer(token),
  ...(payload !== undefined ? { payload } : {}),
});
const form = (fields: Record<string, string>): InjectOptions => ({
  method: 'POST',
  url: '/token',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(fields).toString(),
});
const MAGIC_GRANT = 'urn:gatehouse:grant-type:magic-link';

async function expectOk(response: LightMyRequestResponse, what: string): Promise<LightMyRequestResponse> {
  assert.ok(response.statusCode < 300, `${what}: ${response.statusCode} ${response.body}`);
  return response;
}

/** A new user with a confirmed authenticator app (its next code is from a later step). */
async function withApp(api: Api) {
  const user = await api.user();
  const { id, secret } = (
    await expectOk(await api.send(json('POST', '/users/me/factors/totp', user.token, {})), 'enrol')
  ).json();
  const confirmed = await expectOk(
    await api.send(
      json('POST', `/users/me/factors/totp/${id}/confirm`, user.token, {
        code: totpCode(secret, api.t.clock.now()),
      }),
    ),
    'confirm',
  );
  api.t.clock.advance(30_000);
  return { user, secret: secret as string, recoveryCodes: confirmed.json().recovery_codes as string[] };
}

/** A confidential client registered by the admin: its id and secret. */
const basic = (id: string, secret: string) => ({
  authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
});
const PKCE_VERIFIER = 'a-verifier-of-the-audit-walk-that-is-long-enough-for-pkce';
const PKCE_CHALLENGE = createHash('sha256').update(PKCE_VERIFIER).digest('base64url');

/** The client's `POST /token` redeeming `code`. */
function codeExchange(app: { client_id: string; client_secret: string }, code: string): InjectOptions {
  return {
    ...form({
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'https://app.example.com/cb',
      code_verifier: PKCE_VERIFIER,
    }),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...basic(app.client_id, app.client_secret),
    },
  };
}

/** A first-party client and a code it got for a new user signed in by cookie. */
async function authorizationCode(api: Api, scope = 'openid profile') {
  const created = await expectOk(
    await api.send(
      json('POST', '/clients', api.admin.token, {
        client_name: 'Audited first-party app',
        redirect_uris: ['https://app.example.com/cb'],
        skip_consent: true,
      }),
    ),
    'register client',
  );
  const app = created.json() as { client_id: string; client_secret: string };
  const user = await api.user();
  const signedIn = await expectOk(
    await api.send(json('POST', '/login', null, { username: user.username, password: PASSWORD })),
    'login',
  );
  const cookie = signedIn.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const query = new URLSearchParams({
    client_id: app.client_id,
    redirect_uri: 'https://app.example.com/cb',
    response_type: 'code',
    scope,
    code_challenge: PKCE_CHALLENGE,
    code_challenge_method: 'S256',
  });
  const answer = await api.send({ method: 'GET', url: `/authorize?${query}`, headers: { cookie } });
  const code = new URL(String(answer.headers.location)).searchParams.get('code') ?? '';
  return { app, user, code };
}

async function newClient(api: Api): Promise<{ client_id: string; client_secret: string }> {
  const created = await expectOk(
    await api.send(
      json('POST', '/clients', api.admin.token, {
        client_name: 'Audited app',
        redirect_uris: ['https://app.example.com/cb'],
      }),
    ),
    'register client',
  );
  return created.json();
}

/** A new client and a new user's tokens issued to it. */
async function clientTokens(api: Api) {
  const client = await newClient(api);
  const user = await api.user();
  const record = await api.t.gatehouse.accounts.getUserOrThrow(user.id);
  const pair = await api.t.gatehouse.sessions.startTokenSession(
    record,
    'openid',
    client.client_id,
    { ip: null, userAgent: null },
    'test',
  );
  return { client, pair };
}

/** A client-authenticated form post of `token` (client_secret_basic). */
function clientForm(
  url: string,
  client: { client_id: string; client_secret: string },
  token: string,
): InjectOptions {
  const credentials = Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64');
  return {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${credentials}` },
    payload: new URLSearchParams({ token }).toString(),
  };
}

/** Every case of docs/audit-events.md's route table, by `operation | case`. */
const CASES: Record<string, (api: Api) => Promise<Step>> = {
  'POST /users/me/factors/totp | new app': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/users/me/factors/totp', user.token, {}), actor: user.id };
  },
  'POST /users/me/factors/totp/{id}/confirm | first factor': async (api) => {
    const user = await api.user();
    const { id, secret } = (
      await expectOk(await api.send(json('POST', '/users/me/factors/totp', user.token, {})), 'enrol')
    ).json();
    return {
      request: json('POST', `/users/me/factors/totp/${id}/confirm`, user.token, {
        code: totpCode(secret, api.t.clock.now() + 1000),
      }),
      actor: user.id,
      secrets: [secret],
    };
  },
  'DELETE /users/me/factors/{id} | unconfirmed app': async (api) => {
    const user = await api.user();
    const { id } = (
      await expectOk(await api.send(json('POST', '/users/me/factors/totp', user.token, {})), 'enrol')
    ).json();
    return { request: json('DELETE', `/users/me/factors/${id}`, user.token), actor: user.id };
  },
  'POST /users/me/recovery-codes | signed in with the factor': async (api) => {
    const { user, secret } = await withApp(api);
    const token = (await api.tokenGrant({ username: user.username, password: PASSWORD })).json().mfa_token;
    const done = await expectOk(
      await api.tokenGrant({
        grant_type: 'urn:gatehouse:grant-type:mfa-otp',
        mfa_token: token,
        otp: totpCode(secret, api.t.clock.now()),
      }),
      'second step',
    );
    return { request: json('POST', '/users/me/recovery-codes', done.json().access_token), actor: user.id };
  },
  'DELETE /users/{id}/factors | another user': async (api) => {
    const { user } = await withApp(api);
    return { request: json('DELETE', `/users/${user.id}/factors`, api.admin.token), actor: api.admin.id };
  },
  'POST /users/me/factors/webauthn/options | options': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/users/me/factors/webauthn/options', user.token), actor: user.id };
  },
  'POST /users/me/factors/webauthn | first factor': async (api) => {
    const user = await api.user();
    const options = (await api.send(json('POST', '/users/me/factors/webauthn/options', user.token))).json();
    const response = createSoftAuthenticator('app.test').register(options, 'http://app.test');
    return { request: json('POST', '/users/me/factors/webauthn', user.token, { response }), actor: user.id };
  },
  'POST /mfa/webauthn/options | mfa_token': async (api) => {
    const { user } = await withApp(api);
    const token = (await api.tokenGrant({ username: user.username, password: PASSWORD })).json().mfa_token;
    return {
      request: json('POST', '/mfa/webauthn/options', null, { mfa_token: token }),
      actor: null,
      secrets: [token],
    };
  },
  'POST /webauthn/authenticate/options | options': async () => ({
    request: json('POST', '/webauthn/authenticate/options', null),
    actor: null,
  }),
  'POST /login/passkey | passkey': async (api) => {
    const user = await api.user();
    const key = createSoftAuthenticator('app.test');
    const options = (await api.send(json('POST', '/users/me/factors/webauthn/options', user.token))).json();
    await expectOk(
      await api.send(
        json('POST', '/users/me/factors/webauthn', user.token, {
          response: key.register(options, 'http://app.test'),
        }),
      ),
      'register',
    );
    const request = (await api.send(json('POST', '/webauthn/authenticate/options', null))).json();
    return {
      request: json('POST', '/login/passkey', null, {
        assertion: JSON.stringify(key.assert(request, 'http://app.test')),
      }),
      actor: null,
    };
  },
  'POST /login/mfa | one-time code': async (api) => {
    const { user, secret } = await withApp(api);
    const login = await api.send(
      json('POST', '/login', null, { username: user.username, password: PASSWORD }),
    );
    const token = login.json().mfa_token;
    return {
      request: json('POST', '/login/mfa', null, {
        mfa_token: token,
        otp: totpCode(secret, api.t.clock.now() + 1000),
      }),
      actor: null,
      secrets: [token, secret],
    };
  },
  'POST /token | one-time code grant': async (api) => {
    const { user, secret } = await withApp(api);
    const token = (await api.tokenGrant({ username: user.username, password: PASSWORD })).json().mfa_token;
    return {
      request: form({
        grant_type: 'urn:gatehouse:grant-type:mfa-otp',
        mfa_token: token,
        otp: totpCode(secret, api.t.clock.now() + 1000),
      }),
      actor: null,
      secrets: [token, secret],
    };
  },
  'POST /token | recovery code grant': async (api) => {
    const { user, recoveryCodes } = await withApp(api);
    const token = (await api.tokenGrant({ username: user.username, password: PASSWORD })).json().mfa_token;
    return {
      request: form({
        grant_type: 'urn:gatehouse:grant-type:mfa-recovery-code',
        mfa_token: token,
        recovery_code: recoveryCodes[0] ?? '',
      }),
      actor: null,
      secrets: [token, recoveryCodes[0] ?? ''],
    };
  },
  'POST /register | sign-up': async () => ({
    request: json('POST', '/register', null, {
      username: 'walker',
      email: 'walker@example.com',
      password: PASSWORD,
    }),
    actor: null,
  }),
  'POST /token | password grant': async (api) => {
    const user = await api.user();
    return { request: form({ username: user.username, password: PASSWORD }), actor: null };
  },
  'POST /token | refresh grant': async (api) => {
    const user = await api.user();
    const tokens = await expectOk(
      await api.tokenGrant({ username: user.username, password: PASSWORD }),
      'login',
    );
    const refresh = tokens.json().refresh_token as string;
    return {
      request: form({ grant_type: 'refresh_token', refresh_token: refresh }),
      actor: null,
      secrets: [refresh],
    };
  },
  'POST /token | magic-link grant, verified address': async (api) => {
    const user = await api.user();
    const verify = await api.linkToken(user.email, '/verify-email');
    await expectOk(await api.send(json('POST', '/verify', null, { token: verify })), 'verify');
    await expectOk(await api.send(json('POST', '/magic-link', null, { email: user.email })), 'magic link');
    const token = await api.linkToken(user.email, '/magic-link');
    return { request: form({ grant_type: MAGIC_GRANT, token }), actor: null, secrets: [token] };
  },
  'POST /token | magic-link grant, unverified address': async (api) => {
    const user = await api.user();
    await expectOk(await api.send(json('POST', '/magic-link', null, { email: user.email })), 'magic link');
    const token = await api.linkToken(user.email, '/magic-link');
    return { request: form({ grant_type: MAGIC_GRANT, token }), actor: null, secrets: [token] };
  },
  'POST /token | magic-link grant, new address (sign-up)': async (api) => {
    await expectOk(
      await api.send(json('POST', '/magic-link', null, { email: 'newcomer@example.com' })),
      'magic link',
    );
    const token = await api.linkToken('newcomer@example.com', '/magic-link');
    return { request: form({ grant_type: MAGIC_GRANT, token }), actor: null, secrets: [token] };
  },
  'POST /login | password': async (api) => {
    const user = await api.user();
    return {
      request: json('POST', '/login', null, { username: user.username, password: PASSWORD }),
      actor: null,
    };
  },
  'POST /logout | bearer token': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/logout', user.token), actor: user.id };
  },
  'DELETE /sessions | every session': async (api) => {
    const user = await api.user();
    return { request: json('DELETE', '/sessions', user.token), actor: user.id };
  },
  'DELETE /sessions/{id} | another session': async (api) => {
    const user = await api.user();
    await login(api.t.app, user.username);
    const list = await expectOk(await api.send(json('GET', '/sessions', user.token)), 'sessions');
    const other = (list.json().items as { id: string; current: boolean }[]).find((s) => !s.current);
    assert.ok(other, 'a second session');
    return { request: json('DELETE', `/sessions/${other.id}`, user.token), actor: user.id };
  },
  'POST /users/me/password | right current password': async (api) => {
    const user = await api.user();
    return {
      request: json('POST', '/users/me/password', user.token, {
        current_password: PASSWORD,
        new_password: NEW_PASSWORD,
      }),
      actor: user.id,
    };
  },
  'POST /reauthenticate | right password': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/reauthenticate', user.token, { password: PASSWORD }), actor: user.id };
  },
  'PATCH /users/me | full name': async (api) => {
    const user = await api.user();
    return { request: json('PATCH', '/users/me', user.token, { full_name: 'Walker Two' }), actor: user.id };
  },
  'PATCH /users/me | email': async (api) => {
    const user = await api.user();
    return {
      request: json('PATCH', '/users/me', user.token, { email: `moved-${user.username}@example.com` }),
      actor: user.id,
    };
  },
  'PATCH /users/me | full name and email': async (api) => {
    const user = await api.user();
    return {
      request: json('PATCH', '/users/me', user.token, {
        full_name: 'Walker Three',
        email: `moved-${user.username}@example.com`,
      }),
      actor: user.id,
    };
  },
  'POST /users | with roles': async (api) => ({
    request: json('POST', '/users', api.admin.token, {
      username: 'made-by-admin',
      email: 'made-by-admin@example.com',
      password: PASSWORD,
      roles: ['user', 'moderator'],
    }),
    actor: api.admin.id,
  }),
  'PATCH /users/{id} | full name and email': async (api) => {
    const user = await api.user();
    return {
      request: json('PATCH', `/users/${user.id}`, api.admin.token, {
        full_name: 'Renamed',
        email: `renamed-${user.username}@example.com`,
      }),
      actor: api.admin.id,
    };
  },
  'PATCH /users/{id} | grant admin': async (api) => {
    const user = await api.user();
    return {
      request: json('PATCH', `/users/${user.id}`, api.admin.token, { roles: ['user', 'admin'] }),
      actor: api.admin.id,
    };
  },
  'PATCH /users/{id} | disable': async (api) => {
    const user = await api.user();
    return {
      request: json('PATCH', `/users/${user.id}`, api.admin.token, { disabled: true }),
      actor: api.admin.id,
    };
  },
  'PATCH /users/{id} | enable': async (api) => {
    const user = await api.user();
    await api.t.gatehouse.accounts.setDisabled(user.id, true);
    return {
      request: json('PATCH', `/users/${user.id}`, api.admin.token, { disabled: false }),
      actor: api.admin.id,
    };
  },
  'PATCH /users/{id} | full name, roles and disable at once': async (api) => {
    const user = await api.user();
    return {
      request: json('PATCH', `/users/${user.id}`, api.admin.token, {
        full_name: 'All At Once',
        roles: ['moderator'],
        disabled: true,
      }),
      actor: api.admin.id,
    };
  },
  'PATCH /users/{id} | nothing different': async (api) => {
    const user = await api.user();
    return {
      request: json('PATCH', `/users/${user.id}`, api.admin.token, {
        email: user.email,
        roles: ['user'],
        disabled: false,
      }),
      actor: api.admin.id,
    };
  },
  'DELETE /users/{id} | another user': async (api) => {
    const user = await api.user();
    return { request: json('DELETE', `/users/${user.id}`, api.admin.token), actor: api.admin.id };
  },
  'DELETE /users/{id}/sessions | another user': async (api) => {
    const user = await api.user();
    return { request: json('DELETE', `/users/${user.id}/sessions`, api.admin.token), actor: api.admin.id };
  },
  'POST /roles | new role': async (api) => ({
    request: json('POST', '/roles', api.admin.token, {
      name: 'auditors',
      description: 'Read the audit log',
      permissions: ['audit:read'],
    }),
    actor: api.admin.id,
  }),
  'PATCH /roles/{name} | permissions': async (api) => {
    await api.t.gatehouse.roles.createRole(operatorActor(), 'editors', 'Edit', ['profile:read']);
    return {
      request: json('PATCH', '/roles/editors', api.admin.token, {
        permissions: ['profile:read', 'users:read'],
      }),
      actor: api.admin.id,
    };
  },
  'DELETE /roles/{name} | held role, with force': async (api) => {
    await api.t.gatehouse.roles.createRole(operatorActor(), 'doomed', 'Going away', ['profile:read']);
    const user = await api.user();
    await api.t.gatehouse.accounts.setRoles(user.id, ['user', 'doomed']);
    return { request: json('DELETE', '/roles/doomed?force=true', api.admin.token), actor: api.admin.id };
  },
  'POST /api-keys | own key': async (api) => {
    const user = await api.user();
    return {
      request: json('POST', '/api-keys', user.token, { name: 'ci', scopes: ['profile:read'] }),
      actor: user.id,
    };
  },
  'DELETE /api-keys/{id} | own key': async (api) => {
    const user = await api.user();
    const created = await expectOk(
      await api.send(json('POST', '/api-keys', user.token, { name: 'old', scopes: [] })),
      'create key',
    );
    return {
      request: json('DELETE', `/api-keys/${created.json().id}`, user.token),
      actor: user.id,
      secrets: [created.json().key],
    };
  },
  'POST /clients | confidential client': async (api) => ({
    request: json('POST', '/clients', api.admin.token, {
      client_name: 'Audited app',
      redirect_uris: ['https://app.example.com/cb'],
    }),
    actor: api.admin.id,
  }),
  'PATCH /clients/{client_id} | name and redirect URIs': async (api) => {
    const client = await newClient(api);
    return {
      request: json('PATCH', `/clients/${client.client_id}`, api.admin.token, {
        client_name: 'Renamed app',
        redirect_uris: ['https://app.example.com/cb2'],
      }),
      actor: api.admin.id,
      secrets: [client.client_secret],
    };
  },
  'DELETE /clients/{client_id} | a client': async (api) => {
    const client = await newClient(api);
    return {
      request: json('DELETE', `/clients/${client.client_id}`, api.admin.token),
      actor: api.admin.id,
      secrets: [client.client_secret],
    };
  },
  'POST /clients/{client_id}/secret | confidential client': async (api) => {
    const client = await newClient(api);
    return {
      request: json('POST', `/clients/${client.client_id}/secret`, api.admin.token),
      actor: api.admin.id,
      secrets: [client.client_secret],
    };
  },
  'POST /token | authorization-code grant': async (api) => {
    const { app, code } = await authorizationCode(api);
    return {
      request: codeExchange(app, code),
      actor: null,
      secrets: [code, app.client_secret],
    };
  },
  'POST /token | client-credentials grant': async (api) => {
    const created = await expectOk(
      await api.send(
        json('POST', '/clients', api.admin.token, {
          client_name: 'Audited job',
          grant_types: ['client_credentials'],
        }),
      ),
      'register machine client',
    );
    const app = created.json() as { client_id: string; client_secret: string };
    return {
      request: {
        ...form({ grant_type: 'client_credentials' }),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...basic(app.client_id, app.client_secret),
        },
      },
      actor: null,
      secrets: [app.client_secret],
    };
  },
  'POST /par | pushed request': async (api) => {
    const app = await newClient(api);
    return {
      request: {
        method: 'POST',
        url: '/par',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...basic(app.client_id, app.client_secret),
        },
        payload: new URLSearchParams({
          redirect_uri: 'https://app.example.com/cb',
          response_type: 'code',
          scope: 'openid',
          code_challenge: PKCE_CHALLENGE,
          code_challenge_method: 'S256',
        }).toString(),
      },
      actor: null,
      secrets: [app.client_secret],
    };
  },
  'POST /userinfo | claims': async (api) => {
    const { app, code } = await authorizationCode(api);
    const tokens = await expectOk(await api.send(codeExchange(app, code)), 'code exchange');
    const accessToken = tokens.json().access_token as string;
    return {
      request: { method: 'POST', url: '/userinfo', headers: bearer(accessToken) },
      actor: null,
      secrets: [accessToken],
    };
  },
  'POST /introspect | own refresh token': async (api) => {
    const { client, pair } = await clientTokens(api);
    return {
      request: clientForm('/introspect', client, pair.refreshToken),
      actor: null,
      secrets: [client.client_secret, pair.refreshToken],
    };
  },
  'POST /revoke | own refresh token': async (api) => {
    const { client, pair } = await clientTokens(api);
    return {
      request: clientForm('/revoke', client, pair.refreshToken),
      actor: null,
      secrets: [client.client_secret, pair.refreshToken],
    };
  },
  'POST /token | token-exchange grant, new person': async (api) => {
    const idToken = await api.oidc.server.issuer.buildToken({
      scopesOrTransform: (_header: unknown, payload: Record<string, unknown>) => {
        Object.assign(payload, {
          sub: 'exchanged',
          aud: 'audit-client',
          email: 'exchanged@example.com',
          email_verified: true,
        });
      },
    });
    return {
      request: form({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: idToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        provider: 'google',
      }),
      actor: null,
      secrets: [idToken],
    };
  },
  'POST /users/me/identities/{provider} | start a link': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/users/me/identities/google', user.token), actor: user.id };
  },
  'DELETE /users/me/identities/{id} | one of two ways in': async (api) => {
    const user = await api.user();
    const now = api.t.clock.now();
    await insertIdentity(api.t.gatehouse.store.db, {
      id: `identity-${user.id}`,
      provider: 'google',
      subject: `subject-${user.id}`,
      userId: user.id,
      email: null,
      emailVerified: false,
      createdAt: now,
      lastUsedAt: now,
    });
    return {
      request: json('DELETE', `/users/me/identities/identity-${user.id}`, user.token),
      actor: user.id,
    };
  },
  'POST /verify/request | unverified address': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/verify/request', user.token), actor: user.id };
  },
  'POST /verify | link token': async (api) => {
    const user = await api.user();
    const token = await api.linkToken(user.email, '/verify-email');
    return { request: json('POST', '/verify', null, { token }), actor: null, secrets: [token] };
  },
  'POST /forgot-password | known address': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/forgot-password', null, { email: user.email }), actor: null };
  },
  'POST /forgot-password | unknown address': async () => ({
    request: json('POST', '/forgot-password', null, { email: 'nobody@example.com' }),
    actor: null,
  }),
  'POST /reset-password | link token': async (api) => {
    const user = await api.user();
    await expectOk(await api.send(json('POST', '/forgot-password', null, { email: user.email })), 'forgot');
    const token = await api.linkToken(user.email, '/reset-password');
    return {
      request: json('POST', '/reset-password', null, { token, new_password: NEW_PASSWORD }),
      actor: null,
      secrets: [token],
    };
  },
  'POST /magic-link | known address': async (api) => {
    const user = await api.user();
    return { request: json('POST', '/magic-link', null, { email: user.email }), actor: null };
  },
  'POST /users/me/email/confirm | link token': async (api) => {
    const user = await api.user();
    const address = `confirmed-${user.username}@example.com`;
    await expectOk(await api.send(json('PATCH', '/users/me', user.token, { email: address })), 'change');
    const token = await api.linkToken(address, '/confirm-email');
    return {
      request: json('POST', '/users/me/email/confirm', null, { token }),
      actor: null,
      secrets: [token],
    };
  },
};

interface AuditItem {
  id: string;
  at: string;
  event: string;
  user_id: string | null;
  actor_id: string | null;
  target: string | null;
  ip: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

test('docs/audit-events.md lists every audit event type, and nothing else', () => {
  const source = readFileSync('src/store/audit.ts', 'utf8');
  const start = source.indexOf('export type AuditEventName');
  const names = [...source.slice(start, source.indexOf(';', start)).matchAll(/'([a-z_.]+)'/g)].map(
    (m) => m[1],
  );
  assert.deepEqual([...CATALOGUE.keys()].sort(), names.sort());
  const unknown = ROUTE_CASES.flatMap((row) => row.events).filter((event) => !CATALOGUE.has(event));
  assert.deepEqual(unknown, [], 'the route table names only catalogued events');
});

test('the walking test has a case for each row of the route table, and no other', () => {
  const documented = ROUTE_CASES.map((row) => caseKey(row.operation, row.case)).sort();
  assert.deepEqual(Object.keys(CASES).sort(), documented);
});

for (const database of DATABASES) {
  describe(`the audit trail of every state-changing route (${database.name})`, () => {
    let api: Api;
    let closeAll: () => Promise<void>;
    let counter = 0;

    before(async () => {
      const smtp = await startSmtpServer();
      const oidc = await startOidcProvider();
      const t = await createTestApp({
        databaseUrl: database.url,
        env: {
          GATEHOUSE_SMTP_URL: smtp.url,
          GATEHOUSE_PUBLIC_URL: 'http://app.test',
          GATEHOUSE_MAGIC_LINK_SIGNUP: 'true',
          GATEHOUSE_ENCRYPTION_KEY: ENCRYPTION_KEY,
          GATEHOUSE_GOOGLE_ISSUER: oidc.issuer,
          GATEHOUSE_GOOGLE_CLIENT_ID: 'audit-client',
          GATEHOUSE_GOOGLE_CLIENT_SECRET: 'audit-secret',
        },
      });
      const root = await t.gatehouse.accounts.register({
        username: 'root',
        email: 'root@example.com',
        password: PASSWORD,
        roles: ['user', 'admin'],
      });
      const send = (request: InjectOptions) => t.app.inject(request);
      api = {
        t,
        oidc,
        smtp,
        admin: { id: root.id, token: await login(t.app, 'root') },
        async user() {
          counter += 1;
          const username = `walker${counter}`;
          const { id } = await registerUser(t.app, username);
          return { id, username, email: `${username}@example.com`, token: await login(t.app, username) };
        },
        async linkToken(address, path) {
          await t.gatehouse.emailFlows.settled();
          await t.gatehouse.mail.runOnce();
          return tokenFrom(mailTo(smtp.messages, address).at(-1), path);
        },
        send,
        tokenGrant: (fields) => send(form(fields)),
      };
      closeAll = async () => {
        await t.close();
        await smtp.close();
        await oidc.close();
      };
    });
    after(() => closeAll());

    test('every non-GET operation of the OpenAPI document has its events in docs/audit-events.md', async () => {
      const doc = (await api.send({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<string, Record<string, unknown>>;
      };
      const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
        Object.keys(item)
          .filter((method) => ['post', 'put', 'patch', 'delete'].includes(method))
          .map((method) => `${method.toUpperCase()} ${path}`),
      );
      const documented = new Set(ROUTE_CASES.map((row) => row.operation));
      assert.deepEqual(
        operations.filter((operation) => !documented.has(operation)),
        [],
        'state-changing operations missing from the "Events by route" table of docs/audit-events.md',
      );
      assert.deepEqual(
        [...documented].filter((operation) => !operations.includes(operation)),
        [],
        'operations in docs/audit-events.md that the OpenAPI document does not have',
      );
    });

    for (const row of ROUTE_CASES) {
      const key = caseKey(row.operation, row.case);
      test(`${key}: leaves ${row.events.join(', ') || 'no event'}`, async () => {
        const scenario = CASES[key];
        assert.ok(scenario, `no case in this test for "${key}"`);
        const step = await scenario(api);
        // Everything the setup wrote is older than `since`.
        api.t.clock.advance(1000);
        const since = api.t.clock.now();
        const userAgent = `audit-walk/${counter}-${row.case.replace(/\W+/g, '-')}`;
        const response = await expectOk(
          await api.send({
            ...step.request,
            headers: { ...(step.request.headers as object), 'user-agent': userAgent },
          }),
          key,
        );
        await api.t.gatehouse.emailFlows.settled();
        const listed = await expectOk(
          await api.send(json('GET', '/audit?limit=100', api.admin.token)),
          'GET /audit',
        );
        const written = (listed.json().items as AuditItem[])
          .filter((item) => Date.parse(item.at) >= since)
          .reverse();
        assert.deepEqual(written.map((item) => item.event).sort(), [...row.events].sort());

        const body = response.body === '' ? {} : (response.json() as Record<string, unknown>);
        const secrets = [
          PASSWORD,
          NEW_PASSWORD,
          ...(step.secrets ?? []),
          ...['key', 'access_token', 'refresh_token', 'csrf_token', 'client_secret']
            .map((name) => body[name])
            .filter((value): value is string => typeof value === 'string'),
        ];
        for (const item of written) {
          const where = `${item.event} after ${key}`;
          assert.equal(item.actor_id, step.actor, `${where}: actor`);
          assert.notEqual(item.target, null, `${where}: target`);
          assert.equal(item.ip, '127.0.0.1', `${where}: ip`);
          assert.equal(item.user_agent, userAgent, `${where}: user agent`);
          const allowed = CATALOGUE.get(item.event) ?? [];
          const extra = Object.keys(item.details).filter((name) => !allowed.includes(name));
          assert.deepEqual(extra, [], `${where}: detail keys the catalogue does not list`);
          const text = JSON.stringify(item);
          for (const secret of secrets) assert.ok(!text.includes(secret), `${where}: holds a secret`);
          assert.ok(!JSON.stringify(item.details).includes('@'), `${where}: holds an email address`);
        }
      });
    }
  });
}
