/**
 * No client input reaches the database unvalidated. Every operation in the OpenAPI document is
 * sent hostile values, one parameter or body field at a time with the others plausible: NUL
 * bytes, unpaired surrogates, 10 kB strings, fractional and huge numbers, wrong JSON types,
 * forged pagination cursors and hostile HTTP Basic credentials. Each must be a 4xx (never a 5xx,
 * which on PostgreSQL is what a NUL or a fractional bigint becomes) and leave every table as it
 * was. One app per database, many requests.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import type { Database } from '../../src/store/schema.ts';
import {
  createTestApp,
  DATABASES,
  login,
  PASSWORD,
  registerUser,
  type TestApp,
} from '../support/gatehouse.ts';

type JsonSchema = {
  type?: string | string[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minLength?: number;
  format?: string;
  enum?: unknown[];
};
interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
  readonly schema: JsonSchema;
}
interface Operation {
  readonly method: string;
  readonly path: string;
  readonly parameters: Parameter[];
  readonly body: { contentType: string; schema: JsonSchema } | undefined;
  readonly basic: boolean;
}

const TABLES: (keyof Database)[] = [
  'users',
  'roles',
  'user_roles',
  'role_permissions',
  'signing_keys',
  'sessions',
  'refresh_tokens',
  'audit_events',
  'api_keys',
  'mail_outbox',
  'email_tokens',
];

const TEN_KB = 'x'.repeat(10 * 1024);
const HOSTILE_TEXT = ['\u0000', 'a\u0000b', '\ud800', 'x\udfff', TEN_KB];
const HOSTILE_NUMBERS = [1.5, 1e20, -1e20, -1, 2 ** 53 + 2];
const cursorOf = (text: string) => Buffer.from(text).toString('base64url');
const HOSTILE_CURSORS = [
  '[1.5,"x"]',
  '[1e20,"x"]',
  '[-1,"x"]',
  '[1,"\\u0000"]',
  '["x","x"]',
  '[1,5]',
  '[1]',
  '{}',
  'null',
].map(cursorOf);

function typesOf(schema: JsonSchema): Set<string> {
  if (schema.anyOf) return new Set(schema.anyOf.flatMap((s) => [...typesOf(s)]));
  const type = schema.type;
  return new Set(type === undefined ? [] : Array.isArray(type) ? type : [type]);
}

/** A value the schema accepts, so that only the hostile field is wrong. */
function plausible(name: string, schema: JsonSchema): unknown {
  const types = typesOf(schema);
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return plausible(name, schema.anyOf.find((s) => !typesOf(s).has('null')) ?? schema);
  if (types.has('array')) return [];
  if (types.has('boolean')) return false;
  if (types.has('integer') || types.has('number')) return 1;
  if (types.has('object')) return {};
  if (schema.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
  if (/email/.test(name)) return 'walker@example.com';
  if (/password/.test(name)) return 'a walker passphrase of some length';
  return 'walker'.padEnd(schema.minLength ?? 0, 'x');
}

/** Values of every wrong JSON type for this schema, plus hostile ones of its own type. */
function hostileJson(schema: JsonSchema): unknown[] {
  const types = typesOf(schema);
  const values: unknown[] = [];
  if (types.has('string')) values.push(...HOSTILE_TEXT);
  if (types.has('integer') || types.has('number')) values.push(...HOSTILE_NUMBERS);
  if (types.has('array')) {
    const items = schema.items ?? {};
    values.push(...hostileJson(items).map((item) => [item]));
  }
  const wrong: [string, unknown][] = [
    ['string', 'not of this type'],
    ['number', 12345],
    ['boolean', true],
    ['array', ['x']],
    ['object', { x: 1 }],
    ['null', null],
  ];
  for (const [type, value] of wrong) {
    const accepted = types.has(type) || (type === 'number' && types.has('integer'));
    if (!accepted) values.push(value);
  }
  return values;
}

/** Hostile values of a form field or URL part: text only, as the transport allows. */
function hostileText(name: string, schema: JsonSchema, part: 'path' | 'query' | 'form'): string[] {
  const types = typesOf(schema);
  const values = ['\u0000', 'a\u0000b', TEN_KB];
  if (part === 'path') values.push('\ud800'.replace(/./u, '%ED%A0%80'));
  if (types.has('integer') || types.has('number')) values.push('1.5', '1e20', '-1e20', '-1', 'abc');
  if (types.has('boolean') || schema.anyOf || schema.enum) values.push('maybe');
  if (name === 'cursor') values.push(...HOSTILE_CURSORS);
  return values;
}

/** A URL part as sent: pre-encoded hostile bytes (`%ED%A0%80`) are kept, anything else encoded. */
const encodePart = (value: string) => (/^%[0-9A-F]{2}/.test(value) ? value : encodeURIComponent(value));

function operationsOf(document: {
  paths: Record<string, Record<string, Record<string, unknown>>>;
}): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const content = (op.requestBody as { content?: Record<string, { schema: JsonSchema }> } | undefined)
        ?.content;
      const contentType = content
        ? (Object.keys(content).find((type) => type === 'application/json') ?? Object.keys(content)[0])
        : undefined;
      const security = (op.security as Record<string, unknown>[] | undefined) ?? [];
      operations.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters as Parameter[] | undefined) ?? [],
        body:
          content && contentType ? { contentType, schema: content[contentType]?.schema ?? {} } : undefined,
        basic: security.some((requirement) => 'HTTPBasic' in requirement),
      });
    }
  }
  return operations;
}

/** Every hostile request for one operation: one wrong part at a time. */
function hostileRequests(op: Operation, token: string): { what: string; request: InjectOptions }[] {
  const pathValues: Record<string, string> = {};
  for (const p of op.parameters.filter((p) => p.in === 'path')) {
    pathValues[p.name] = p.name === 'id' ? randomUUID() : `walker-${p.name}`;
  }
  const baseQuery: Record<string, string> = {};
  for (const p of op.parameters.filter((p) => p.in === 'query' && p.required)) {
    baseQuery[p.name] = String(plausible(p.name, p.schema));
  }
  const baseBody: Record<string, unknown> = {};
  const bodySchema = op.body?.schema;
  for (const name of bodySchema?.required ?? []) {
    baseBody[name] = plausible(name, bodySchema?.properties?.[name] ?? {});
  }
  const isForm = op.body?.contentType === 'application/x-www-form-urlencoded';

  const build = (
    path: Record<string, string>,
    query: Record<string, string>,
    body: Record<string, unknown> | undefined,
    headers: Record<string, string> = { authorization: `Bearer ${token}` },
  ): InjectOptions => {
    const url =
      op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodePart(path[name] ?? 'x')) +
      (Object.keys(query).length > 0
        ? `?${Object.entries(query)
            .map(([k, v]) => `${k}=${encodePart(v)}`)
            .join('&')}`
        : '');
    const request: InjectOptions = {
      method: op.method as InjectOptions['method'],
      url,
      headers: { ...headers },
    };
    if (op.body !== undefined && body !== undefined) {
      request.headers = { ...request.headers, 'content-type': op.body.contentType };
      request.payload = isForm
        ? new URLSearchParams(body as Record<string, string>).toString()
        : JSON.stringify(body);
    }
    return request;
  };

  const requests: { what: string; request: InjectOptions }[] = [];
  for (const p of op.parameters) {
    if (p.in !== 'path' && p.in !== 'query') continue;
    for (const value of hostileText(p.name, p.schema, p.in)) {
      const what = `${p.in} ${p.name}=${JSON.stringify(value.slice(0, 24))}`;
      if (p.in === 'path')
        requests.push({ what, request: build({ ...pathValues, [p.name]: value }, baseQuery, baseBody) });
      else requests.push({ what, request: build(pathValues, { ...baseQuery, [p.name]: value }, baseBody) });
    }
    if (p.in === 'query') {
      const request = build(pathValues, baseQuery, baseBody);
      const url = String(request.url);
      request.url = `${url}${url.includes('?') ? '&' : '?'}${p.name}=1&${p.name}=2`;
      requests.push({ what: `query ${p.name} repeated`, request });
    }
  }
  for (const [name, schema] of Object.entries(bodySchema?.properties ?? {})) {
    const values = isForm ? hostileText(name, schema, 'form') : hostileJson(schema);
    for (const value of values) {
      const what = `body ${name}=${JSON.stringify(value)?.slice(0, 32)}`;
      requests.push({ what, request: build(pathValues, baseQuery, { ...baseBody, [name]: value }) });
    }
  }
  if (op.basic) {
    const basic = (raw: Buffer) => ({ authorization: `Basic ${raw.toString('base64')}` });
    const credentials = [
      Buffer.from(`wal\u0000ker:${PASSWORD}`),
      Buffer.from(`walker:pass\u0000word`),
      Buffer.from(`wal\u0007ker:${PASSWORD}`),
      Buffer.from(`${TEN_KB}:${PASSWORD}`),
      Buffer.concat([Buffer.from('wal'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`:${PASSWORD}`)]),
      Buffer.concat([Buffer.from('wal'), Buffer.from([0xff, 0xfe]), Buffer.from(`:${PASSWORD}`)]),
    ];
    for (const raw of credentials) {
      requests.push({
        what: `Basic ${JSON.stringify(raw.toString('utf8').slice(0, 24))}`,
        request: build(pathValues, baseQuery, undefined, basic(raw)),
      });
    }
  }
  return requests;
}

for (const database of DATABASES) {
  describe(`hostile input on ${database.name}`, () => {
    let t: TestApp;
    let operations: Operation[];
    let token: string;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
      const admin = await registerUser(t.app, 'walker_admin');
      await t.gatehouse.accounts.setRoles(admin.id, ['user', 'admin']);
      token = await login(t.app, 'walker_admin');
      const document = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      operations = operationsOf(document.json());
    });
    after(async () => t?.close());

    async function rowCounts(): Promise<Record<string, number>> {
      const counts: Record<string, number> = {};
      for (const table of TABLES) {
        const row = await t.gatehouse.store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        counts[table] = Number(row.n);
      }
      return counts;
    }

    test('the walk covers the operations that take input, and HTTP Basic', () => {
      const covered = operations
        .filter((op) => op.basic || op.body !== undefined || op.parameters.length > 0)
        .map((op) => `${op.method} ${op.path}`);
      for (const expected of [
        'GET /protected/basic',
        'GET /users',
        'GET /audit',
        'GET /users/{id}',
        'POST /token',
      ]) {
        assert.ok(covered.includes(expected), expected);
      }
    });

    test('every operation answers hostile values with a 4xx and writes nothing', async () => {
      const problems: string[] = [];
      let sent = 0;
      for (const op of operations) {
        const requests = hostileRequests(op, token);
        if (requests.length === 0) continue;
        const before = await rowCounts();
        for (const { what, request } of requests) {
          const response = await t.app.inject(request);
          sent++;
          if (response.statusCode < 400 || response.statusCode >= 500) {
            problems.push(
              `${op.method} ${op.path} ${what}: ${response.statusCode} ${response.body.slice(0, 160)}`,
            );
          }
        }
        const afterCounts = await rowCounts();
        for (const table of TABLES) {
          if (afterCounts[table] !== before[table]) {
            problems.push(`${op.method} ${op.path}: ${table} ${before[table]} -> ${afterCounts[table]}`);
          }
        }
      }
      assert.ok(sent > 400, `${sent} requests sent`);
      assert.deepEqual(problems, []);
      assert.doesNotMatch(t.logs(), /"level":50/, 'no error logged');
    });

    test('a user agent with control characters is stored as text, never refused by the database', async () => {
      for (const userAgent of ['curl\u0000/8', 'tab\tbell\u0007', `${'é'.repeat(511)}😀`]) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
          payload: new URLSearchParams({ username: 'walker_admin', password: PASSWORD }).toString(),
        });
        assert.equal(response.statusCode, 200, response.body);
      }
      const stored = await t.gatehouse.store.db.selectFrom('sessions').select('user_agent').execute();
      for (const { user_agent } of stored) {
        assert.ok(
          user_agent === null || (!/\p{Cc}/u.test(user_agent) && user_agent.isWellFormed()),
          user_agent ?? '',
        );
      }
      assert.ok(stored.some(({ user_agent }) => user_agent === 'curl\uFFFD/8'));
    });

    test('a forged cursor is a 422 naming the query parameter', async () => {
      for (const url of ['/users', '/audit']) {
        for (const cursor of HOSTILE_CURSORS) {
          const response = await t.app.inject({
            method: 'GET',
            url: `${url}?cursor=${cursor}`,
            headers: { authorization: `Bearer ${token}` },
          });
          assert.equal(response.statusCode, 422, `${url} ${Buffer.from(cursor, 'base64url')}`);
          assert.deepEqual(response.json().detail[0].loc, ['query', 'cursor']);
        }
      }
    });
  });
}
