/**
 * Malformed input across every route: a seeded, deterministic set of a few hundred bad requests
 * (broken JSON, wrong media types, hostile keys, NUL bytes, invalid UTF-8, oversized bodies, odd
 * credentials and methods). None may cause a 5xx, a non-JSON error, a stack trace or a changed row.
 * Reproduce a different set with GATEHOUSE_FUZZ_SEED=<n>.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, DATABASES, registerUser, type TestApp } from '../support/gatehouse.ts';

const SEED = Number(process.env.GATEHOUSE_FUZZ_SEED ?? 20261122);
const BODY_LIMIT = 16 * 1024;
const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** mulberry32: small, seeded, good enough to pick test inputs reproducibly. */
function seededRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  const sample = <T>(items: readonly T[], n: number): T[] => {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = int(0, i);
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, n);
  };
  const text = (
    length: number,
    alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_',
  ) => Array.from({ length }, () => alphabet[int(0, alphabet.length - 1)]).join('');
  return { next, int, pick, sample, text };
}
type Random = ReturnType<typeof seededRandom>;

interface Route {
  readonly method: string;
  readonly url: string;
}

/**
 * Every route the server has, read from `printRoutes` (so a new route is fuzzed without
 * touching this file); `:param` and `*` segments get sample values.
 */
function routesOf(tree: string): Route[] {
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│├└─ ]*)(.+?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match?.[2]) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = Math.max(depth - 1, 0);
    stack.push(match[2]);
    const url = stack
      .join('')
      .replace(/:[A-Za-z_]+/g, 'abc')
      .replace(/\*$/, 'static/index.html');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method !== '' && method !== 'HEAD') routes.push({ method, url });
    }
  }
  return routes;
}

const GUARDED = new Set(['/users/me', '/protected', '/protected/basic', '/session', '/sessions']);
const isDocs = (url: string) => /^\/(docs|redoc)(\/|$|\?)/.test(url);
/**
 * The hosted pages answer a GET with HTML (or CSS) or a 303 elsewhere; what they refuse before
 * rendering (bad credentials, an unknown path) is the usual JSON detail.
 */
const isHostedPage = (c: { method: string; url: string }) =>
  c.method === 'GET' &&
  /^\/(login|register|account|forgot-password|reset-password|verify-email|magic-link|confirm-email|assets\/)/.test(
    c.url,
  );

/** Bodies that are well-formed but can never succeed (wrong password, too-short password). */
/** Posts that read nothing from the request (a fresh WebAuthn challenge): any body is ignored. */
const TAKES_NO_INPUT = new Set(['/webauthn/authenticate/options']);

const BASE_BODIES: Record<string, Record<string, string>> = {
  '/register': { username: 'mallory', email: 'mallory@example.com', password: 'short' },
  '/token': { grant_type: 'password', username: 'alice', password: 'wrong password' },
  '/login': { username: 'alice', password: 'wrong password' },
  '/users/me/password': { current_password: 'wrong password', new_password: 'another password 1' },
};

interface Body {
  readonly label: string;
  readonly contentType: string | undefined;
  readonly payload: string | Buffer;
  /** The status a route that parses bodies must answer with, when it is fixed. */
  readonly status?: number;
}

interface Case {
  readonly label: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly payload?: string | Buffer;
  /** Exact status, or 'client' (any 4xx), or 'any' (anything below 500: a valid GET ignoring junk). */
  readonly expect: number | 'client' | 'any';
}

const json = (value: unknown) => JSON.stringify(value);
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
/** `{"key": value, ...base}` written by hand: object literals would not keep a `__proto__` key. */
const withRawKey = (base: Record<string, string>, rawKey: string, rawValue: string) =>
  `{${json(rawKey)}:${rawValue},${json(base).slice(1)}`;
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

function malformedBodies(base: Record<string, string>, rng: Random): Body[] {
  const fields = Object.keys(base);
  const field = () => rng.pick(fields);
  const bodies: Body[] = [];
  const add = (label: string, contentType: string | undefined, payload: string | Buffer, status?: number) =>
    bodies.push({ label, contentType, payload, ...(status ? { status } : {}) });

  // Space-separated: none of them contains a space.
  const brokenJson = `{ {"a": {"a":1,} {'a':1} {"a":1}} nul tru {"a":"\\x"} \uFEFF{}`.split(' ');
  for (const text of rng.sample(brokenJson, 4)) add(`malformed JSON ${json(text)}`, JSON_TYPE, text, 400);
  add('an empty JSON body', JSON_TYPE, '', 400);
  const whole = json(base);
  for (let i = 0; i < 2; i++) {
    const cut = rng.int(1, whole.length - 1);
    add(`JSON truncated at ${cut}`, JSON_TYPE, whole.slice(0, cut), 400);
  }
  for (const text of rng.sample(['[]', '[1,"a"]', '42', '-0', 'null', 'true', '"text"', '1e999'], 4)) {
    add(`the JSON value ${text}`, JSON_TYPE, text);
  }
  add('text/plain', 'text/plain', whole, 415);
  const multipart = '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--';
  add('multipart', 'multipart/form-data; boundary=x', multipart, 415);
  add('application/xml', 'application/xml', '<a/>', 415);
  add('no content type', undefined, whole, 415);
  add('a JSON-looking media type', 'application/jsonp', whole, 415);
  add('the form encoding', FORM_TYPE, form(base));
  add('an empty object', JSON_TYPE, '{}');
  add('an empty form', FORM_TYPE, '');
  for (const name of fields) {
    const { [name]: _dropped, ...rest } = base;
    add(`JSON without ${name}`, JSON_TYPE, json(rest));
    add(`a form without ${name}`, FORM_TYPE, form(rest));
  }
  for (const odd of rng.sample([42, -1.5, true, null, [], ['a'], {}, { a: 'b' }], 3)) {
    const name = field();
    add(`${name} as ${json(odd)}`, JSON_TYPE, json({ ...base, [name]: odd }));
  }
  {
    const name = field();
    const length = rng.int(2000, 12000);
    add(`${name} ${length} characters long`, JSON_TYPE, json({ ...base, [name]: rng.text(length) }));
  }
  const huge = rng.int(BODY_LIMIT + 1, BODY_LIMIT * 3);
  add(`a ${huge}-byte JSON body`, JSON_TYPE, json({ ...base, [field()]: 'x'.repeat(huge) }), 413);
  add(`a ${huge}-byte form body`, FORM_TYPE, form({ ...base, [field()]: 'x'.repeat(huge) }), 413);
  add(`a ${huge}-byte broken JSON body`, JSON_TYPE, `{${'['.repeat(huge)}`, 413);
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    add(`a top-level ${key} key`, JSON_TYPE, withRawKey(base, key, '{"admin":true}'), 400);
  }
  const nested = withRawKey(base, 'x', '{"a":{"__proto__":{"admin":true}}}');
  add('a nested __proto__ key', JSON_TYPE, nested, 400);
  const inArray = withRawKey(base, 'x', '[{"constructor":{"prototype":{"admin":true}}}]');
  add('a constructor.prototype inside an array', JSON_TYPE, inArray, 400);
  add('a __proto__ form parameter', FORM_TYPE, `__proto__=1&${form(base)}`, 400);
  add('a constructor form parameter', FORM_TYPE, `${form(base)}&constructor=x`, 400);
  add('a NUL in a JSON value', JSON_TYPE, json({ ...base, [field()]: 'a\u0000b' }), 400);
  add('a NUL in a JSON key', JSON_TYPE, withRawKey(base, 'pass\u0000word', '"x"'), 400);
  add('a NUL in a form value', FORM_TYPE, `${form(base)}&x=a%00b`, 400);
  add('a NUL in a form key', FORM_TYPE, `${form(base)}&us%00er=x`, 400);
  const invalidUtf8: [string, number[]][] = [
    ['0xFF', [0xff]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['a lone surrogate', [0xed, 0xa0, 0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
  ];
  for (const [name, raw] of rng.sample(invalidUtf8, 3)) {
    add(`${name} in a raw JSON value`, JSON_TYPE, bytes(`{"${field()}":"`, raw, '"}'), 400);
  }
  add('0xFF in a raw JSON key', JSON_TYPE, bytes('{"', [0xff], '":1}'), 400);
  add('0xFF in a raw form body', FORM_TYPE, bytes(`${form(base)}&x=`, [0xff]), 400);
  for (const encoded of ['%FF', '%C0%AF', '%ED%A0%80', '%E2%82']) {
    add(`${encoded} in a form value`, FORM_TYPE, `${form(base)}&x=a${encoded}`, 400);
  }
  add('%FF in a form key', FORM_TYPE, `${form(base)}&%FF=1`, 400);
  {
    const name = field();
    add(`${name} repeated in a form`, FORM_TYPE, `${form(base)}&${name}=again`, 400);
  }
  add('an empty parameter name repeated', FORM_TYPE, '&&=&=', 400);
  add('JSON nested 40 deep', JSON_TYPE, `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`, 400);
  add('a JSON array nested 5000 deep', JSON_TYPE, `${'['.repeat(5000)}${']'.repeat(5000)}`, 400);
  return bodies;
}

function authorizationVariants(rng: Random): string[] {
  const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64');
  const segment = () => rng.text(rng.int(10, 60));
  return [
    'Bearer',
    'Bearer ',
    'Bearer  a b',
    'bearer x',
    'Bearer a.b.c',
    `Bearer ${segment()}.${segment()}.${segment()}`,
    `Bearer ${b64('{"alg":"none"}')}.${b64('{"sub":"alice"}')}.`,
    `Bearer ${'a'.repeat(rng.int(9000, 60000))}`,
    'Bearer x, Basic y',
    'Basic !!!',
    'Basic',
    `Basic ${b64('no colon')}`,
    `Basic ${b64(':')}`,
    `Basic ${b64(Buffer.from([0xff, 0x3a, 0xfe]))}`,
    `Basic ${b64(`alice:${'x'.repeat(rng.int(2000, 9000))}`)}`,
    `Basic ${'QQ=='.repeat(3000)}`,
    'Digest username="alice"',
    `Negotiate ${segment()}`,
  ];
}

const OTHER_HEADERS: Record<string, string>[] = [
  { cookie: 'gatehouse_session=' },
  { cookie: 'gatehouse_session=garbage' },
  { cookie: 'gatehouse_session=%FF%FE' },
  { cookie: '__Host-gatehouse_session=x; gatehouse_session=y' },
  { cookie: '=;=;;' },
  { cookie: `gatehouse_session=${'a'.repeat(8000)}` },
  { 'x-csrf-token': 'x'.repeat(5000), cookie: 'gatehouse_session=x' },
  { origin: 'null' },
  { 'sec-fetch-site': 'cross-site' },
  { accept: 'application/xml' },
  { 'accept-version': '\u00ff' },
  { 'x-forwarded-for': '1.2.3.4, <script>' },
];

const UNKNOWN_PATHS = [
  '/nope',
  '/register/',
  '/token/extra',
  '/users/ME',
  '/users/me/',
  '/.well-known/',
  '/.well-known/openid-configuration/',
  '//register',
  '/%00',
  '/a%2Fb',
  '/docs/static/../../package.json',
  '/docs/static/..%2f..%2fpackage.json',
  '/docs/static/nope.js',
  '/docs/static/%00',
  `/${'a'.repeat(5000)}`,
];

const ODD_METHODS = ['PUT', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'SEARCH', 'MKCOL', 'PURGE'];

function generateCases(routes: readonly Route[], seed: number): Case[] {
  const rng = seededRandom(seed);
  const cases: Case[] = [];
  type Headers = Record<string, string>;
  const add = (
    method: string,
    url: string,
    label: string,
    headers: Headers,
    expect: Case['expect'],
    payload?: string | Buffer,
  ) => cases.push({ label, method, url, headers, expect, ...(payload === undefined ? {} : { payload }) });
  const parsesBodies = (route: Route) => route.method !== 'GET';
  const expectFor = (route: Route): Case['expect'] =>
    (parsesBodies(route) && !TAKES_NO_INPUT.has(route.url)) || GUARDED.has(route.url) ? 'client' : 'any';

  for (const route of routes) {
    const bodies = malformedBodies(BASE_BODIES[route.url] ?? { note: 'hello' }, rng);
    for (const body of parsesBodies(route) ? bodies : rng.sample(bodies, 4)) {
      const headers: Headers = body.contentType ? { 'content-type': body.contentType } : {};
      const expect = parsesBodies(route) && body.status ? body.status : expectFor(route);
      add(route.method, route.url, body.label, headers, expect, body.payload);
    }
  }
  for (const authorization of authorizationVariants(rng)) {
    for (const route of [...routes.filter((r) => GUARDED.has(r.url)), ...rng.sample(routes, 2)]) {
      const label = `Authorization ${authorization.slice(0, 30)}`;
      add(route.method, route.url, label, { authorization }, expectFor(route));
    }
  }
  for (const headers of OTHER_HEADERS) {
    for (const route of rng.sample(routes, 4)) {
      add(route.method, route.url, `headers ${json(headers).slice(0, 50)}`, headers, expectFor(route));
    }
  }
  for (const method of ODD_METHODS) {
    for (const route of rng.sample(routes, 3)) add(method, route.url, `method ${method}`, {}, 404);
  }
  for (const url of UNKNOWN_PATHS) {
    add('GET', url, 'unknown path', {}, 'client');
    add('POST', url, 'unknown path with a body', { 'content-type': JSON_TYPE }, 'client', '{');
  }
  const readable = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.url));
  for (const { url } of rng.sample(routes, 5)) {
    add('HEAD', url, 'HEAD', {}, readable.has(url) ? expectFor({ method: 'GET', url }) : 404);
  }
  return cases;
}

const STACK_TRACE =
  /\n\s+at |\bat [\w$.<>[\]]+ \(|file:\/\/|node:internal|node_modules|\/work\/|\/src\/|\.[cm]?[jt]s:\d+/;

/** What is wrong with a response, if anything. */
function problemsWith(c: Case, response: LightMyRequestResponse): string[] {
  const status = response.statusCode;
  const problems: string[] = [];
  if (status >= 500) problems.push(`server error ${status}`);
  // Guards run before the body is parsed, so an unauthenticated request is challenged (401)
  // before its malformed body is looked at.
  else if (
    typeof c.expect === 'number' &&
    status !== c.expect &&
    !(status === 401 && response.headers['www-authenticate'])
  )
    problems.push(`status ${status}, expected ${c.expect}`);
  else if (c.expect === 'client' && (status < 400 || status >= 500))
    problems.push(`status ${status}, expected a 4xx`);
  if (c.method === 'HEAD') return problems;
  // The docs pages and the Prometheus text of /metrics are the answers that are not JSON.
  const page = (isDocs(c.url) || /^\/metrics(\?|$)/.test(c.url)) && status < 400;
  if (isHostedPage(c) && status < 500) {
    const type = String(response.headers['content-type']);
    const json = type.startsWith(JSON_TYPE) && status >= 400 && /"detail"/.test(response.body);
    if (status === 303 ? !response.headers.location : !/^text\/(html|css|javascript)/.test(type) && !json) {
      problems.push(`a page answered ${status} ${type}`);
    }
    if (STACK_TRACE.test(response.body)) problems.push(`stack trace or path: ${response.body.slice(0, 200)}`);
  } else if (!page) {
    if (!String(response.headers['content-type']).startsWith(JSON_TYPE)) {
      problems.push(`content-type ${response.headers['content-type']}`);
    }
    let body: unknown;
    try {
      body = response.json();
    } catch {
      problems.push(`body is not JSON: ${response.body.slice(0, 80)}`);
    }
    if (status >= 400 && (typeof body !== 'object' || body === null || !('detail' in body))) {
      problems.push(`no detail: ${response.body.slice(0, 120)}`);
    }
    if (STACK_TRACE.test(response.body)) problems.push(`stack trace or path: ${response.body.slice(0, 200)}`);
  }
  return problems;
}

const describeCase = (c: Case) => `${c.method} ${c.url.slice(0, 60)} [${c.label}]`;

for (const database of DATABASES) {
  describe(`malformed input on ${database.name} (seed ${SEED})`, () => {
    let t: TestApp;
    let routes: Route[];
    const snapshotUsers = () => t.gatehouse.store.db.selectFrom('users').selectAll().orderBy('id').execute();
    let usersBefore: Awaited<ReturnType<typeof snapshotUsers>>;

    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      await registerUser(t.app, 'alice');
      await registerUser(t.app, 'bob');
      usersBefore = await snapshotUsers();
      routes = routesOf(t.app.printRoutes({ commonPrefix: false }));
    });
    after(() => t.close());
    const post = (url: string, contentType: string, payload: string) =>
      t.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });

    test('the fuzzed route list holds every route of the server', () => {
      const listed = new Set(routes.map((r) => `${r.method} ${r.url}`));
      const expected = [
        ...'/ /healthz /readyz /users/me /protected /protected/basic /openapi.json /docs /redoc'.split(' '),
        ...['/.well-known/jwks.json', '/.well-known/oauth-authorization-server', '/docs/static/index.html'],
        ...['/session', '/sessions'],
      ].map((url) => `GET ${url}`);
      expected.push(
        'POST /register',
        'POST /token',
        'POST /login',
        'POST /logout',
        'POST /users/me/password',
      );
      expected.push('DELETE /sessions', 'DELETE /sessions/abc');
      for (const route of expected) {
        assert.ok(listed.has(route), `${route} missing from ${[...listed].join(', ')}`);
      }
    });

    test('a few hundred seeded malformed requests get a 4xx JSON detail, never a 5xx or a stack trace', async () => {
      const cases = generateCases(routes, SEED);
      assert.ok(cases.length >= 300, `only ${cases.length} cases`);
      const failures: string[] = [];
      for (const c of cases) {
        const response = await t.app.inject({
          method: c.method as 'GET',
          url: c.url,
          headers: c.headers,
          ...(c.payload === undefined ? {} : { payload: c.payload }),
        });
        for (const problem of problemsWith(c, response)) failures.push(`${describeCase(c)}: ${problem}`);
      }
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} requests failed (seed ${SEED})`);
    });

    test('the same seed generates the same requests', () => {
      const a = generateCases(routes, SEED).map(describeCase);
      const b = generateCases(routes, SEED).map(describeCase);
      assert.deepEqual(a, b);
    });

    test('a body over 16 KiB is refused with 413 and a detail on every body-taking route', async () => {
      for (const [url, contentType, payload] of [
        ['/register', JSON_TYPE, json({ username: 'x', email: 'x@x.io', password: 'x'.repeat(BODY_LIMIT) })],
        ['/login', JSON_TYPE, json({ username: 'alice', password: 'x'.repeat(BODY_LIMIT) })],
        ['/token', FORM_TYPE, form({ username: 'alice', password: 'x'.repeat(BODY_LIMIT) })],
      ] as const) {
        const response = await post(url, contentType, payload);
        assert.equal(response.statusCode, 413, url);
        assert.deepEqual(response.json(), { detail: 'Request body too large' }, url);
      }
    });

    test('a registration without a password gets the FastAPI 422 shape for body.password', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/register',
        payload: { username: 'nopassword', email: 'nopassword@example.com' },
      });
      assert.equal(response.statusCode, 422);
      const detail = [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }];
      assert.deepEqual(response.json(), { detail });
    });

    test('JSON sent to /token is refused with 415', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/token',
        payload: { username: 'alice', password: 'wrong password' },
      });
      assert.equal(response.statusCode, 415);
      assert.equal(typeof response.json().detail, 'string');
    });

    test('__proto__ and constructor keys are refused with 400 and pollute nothing', async () => {
      const requests: [string, string, string][] = [
        [
          '/register',
          JSON_TYPE,
          '{"__proto__":{"admin":true},"username":"p1","email":"p1@example.com","password":"x"}',
        ],
        [
          '/register',
          JSON_TYPE,
          '{"username":"p2","email":"p2@example.com","password":"x","full_name":{"__proto__":{"admin":true}}}',
        ],
        [
          '/login',
          JSON_TYPE,
          '{"username":"alice","password":"x","a":[{"constructor":{"prototype":{"admin":true}}}]}',
        ],
        ['/token', FORM_TYPE, '__proto__=1&username=alice&password=x'],
        ['/token', FORM_TYPE, 'constructor=1&username=alice&password=x'],
      ];
      for (const [url, contentType, payload] of requests) {
        const response = await post(url, contentType, payload);
        assert.equal(response.statusCode, 400, `${url} ${payload}`);
        assert.match(response.json().detail, /must not contain the key/);
      }
      assert.equal(({} as Record<string, unknown>).admin, undefined);
    });

    test('malformed forms on /token are 400 invalid_request in the RFC 6749 shape', async () => {
      for (const payload of [
        'username=a&username=b&password=x',
        'username=%FF&password=x',
        'username=a%00&password=x',
      ]) {
        const response = await post('/token', FORM_TYPE, payload);
        assert.equal(response.statusCode, 400, payload);
        const body = response.json();
        assert.equal(body.error, 'invalid_request', payload);
        assert.equal(body.error_description, body.detail, payload);
      }
    });

    test('a path with invalid percent-encoding gets a 400 with a detail', async () => {
      for (const url of ['/%FF', '/docs/%E0%A4%A', '/sessions/%FF']) {
        const response = await t.app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 400, url);
        assert.deepEqual(Object.keys(response.json()), ['detail'], `${url}: ${response.body}`);
      }
    });

    test('the users table is unchanged by all of it', async () => {
      assert.deepEqual(await snapshotUsers(), usersBefore);
    });
  });
}
