import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestApp, DATABASES, PASSWORD, type TestApp } from '../support/gatehouse.ts';

for (const database of DATABASES) {
  describe(`POST /register on ${database.name}`, () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp({ databaseUrl: database.url });
    });
    after(() => t.close());

    const register = (payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/register', payload });
    const userCount = async () =>
      (await t.gatehouse.store.db.selectFrom('users').select('id').execute()).length;

    test('a new user is created with role user and the public shape, never the hash', async () => {
      const response = await register({
        username: 'alice',
        email: 'Alice@Example.com',
        full_name: 'Alice A',
        password: PASSWORD,
      });
      assert.equal(response.statusCode, 201);
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), [
        'created_at',
        'disabled',
        'email',
        'email_verified',
        'full_name',
        'id',
        'roles',
        'username',
      ]);
      assert.equal(body.email_verified, false);
      assert.equal(body.username, 'alice');
      assert.equal(body.email, 'Alice@Example.com');
      assert.deepEqual(body.roles, ['user']);
      assert.equal(body.disabled, false);
      assert.doesNotMatch(response.body, /argon2/);
      const row = await t.gatehouse.store.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', body.id)
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash ?? '', /^\$argon2id\$/);
    });

    test('usernames are unique case-insensitively after NFKC, including fullwidth look-alikes', async () => {
      for (const [i, username] of ['ALICE', 'Alice', 'ａｌｉｃｅ'].entries()) {
        const response = await register({ username, email: `lookalike${i}@example.com`, password: PASSWORD });
        assert.equal(response.statusCode, 400, username);
        assert.deepEqual(response.json(), { detail: 'Username already registered' });
      }
    });

    test('a fullwidth username is accepted as its ASCII form', async () => {
      const response = await register({ username: 'ｂｏｂ', email: 'bob@example.com', password: PASSWORD });
      assert.equal(response.statusCode, 201);
      assert.equal(response.json().username, 'bob');
    });

    test('emails are unique case-insensitively', async () => {
      const response = await register({ username: 'alice2', email: 'ALICE@example.COM', password: PASSWORD });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { detail: 'Email already registered' });
    });

    test('usernames outside 3–32 of [A-Za-z0-9_.-] are refused on body.username', async () => {
      for (const username of [
        'ab',
        'a'.repeat(33),
        'al ice',
        "o'neil",
        'drop;table',
        'аlice',
        'x\u200by',
        '../etc',
      ]) {
        const response = await register({ username, email: 'someone@example.com', password: PASSWORD });
        assert.equal(response.statusCode, 422, username);
        assert.deepEqual(response.json().detail[0].loc, ['body', 'username']);
      }
    });

    test('SQL metacharacters in a username are data, never SQL', async () => {
      const before = await userCount();
      const response = await register({
        username: "x' OR '1'='1",
        email: 'sqli@example.com',
        password: PASSWORD,
      });
      assert.equal(response.statusCode, 422);
      const login = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username: "alice' OR '1'='1", password: PASSWORD }).toString(),
      });
      assert.equal(login.statusCode, 401);
      assert.equal(await userCount(), before);
    });

    test('invalid emails are refused on body.email', async () => {
      for (const email of [
        'plain',
        'a@b',
        'a@@example.com',
        'a b@example.com',
        `${'a'.repeat(250)}@example.com`,
      ]) {
        const response = await register({ username: 'carol', email, password: PASSWORD });
        assert.equal(response.statusCode, 422, email);
        assert.deepEqual(response.json().detail[0].loc, ['body', 'email']);
      }
    });

    test('each password rule answers 422 on body.password with a message naming the rule', async () => {
      const cases: [string, RegExp][] = [
        ['short', /at least 8 characters/],
        ['p'.repeat(129), /at most 128 characters/],
        ['password123', /too common/],
        ['carol-the-user', /same as the username or email/],
        ['carol@example.com', /same as the username or email/],
      ];
      for (const [password, message] of cases) {
        const response = await register({ username: 'carol-the-user', email: 'carol@example.com', password });
        assert.equal(response.statusCode, 422, password);
        const [issue] = response.json().detail;
        assert.deepEqual(issue.loc, ['body', 'password']);
        assert.match(issue.msg, message);
      }
    });

    test('password length counts code points after NFKC, so 8 emoji are long enough and 128 are not truncated', async () => {
      const emoji = '🔐🦊🌵🎲🧭🪐🍩🛶';
      assert.equal(emoji.length, 16);
      const ok = await register({ username: 'dave', email: 'dave@example.com', password: emoji });
      assert.equal(ok.statusCode, 201);
      const long = 'Zq9!'.repeat(32);
      const created = await register({ username: 'erin', email: 'erin@example.com', password: long });
      assert.equal(created.statusCode, 201);
      const prefixLogin = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username: 'erin', password: long.slice(0, 72) }).toString(),
      });
      assert.equal(prefixLogin.statusCode, 401);
    });

    test('missing fields answer the FastAPI 422 shape', async () => {
      const response = await register({ username: 'frank', email: 'frank@example.com' });
      assert.equal(response.statusCode, 422);
      assert.deepEqual(response.json(), {
        detail: [{ loc: ['body', 'password'], msg: 'Field required', type: 'missing' }],
      });
    });

    test('two registrations of one username racing give exactly one 201 and one 400', async () => {
      const results = await Promise.all(
        ['racer', 'RACER', 'Racer', 'racer'].map((username, i) =>
          register({ username, email: `racer${i}@example.com`, password: PASSWORD }),
        ),
      );
      const statuses = results.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [201, 400, 400, 400]);
      for (const r of results.filter((r) => r.statusCode === 400)) {
        assert.deepEqual(r.json(), { detail: 'Username already registered' });
      }
    });

    test('a race that reaches the unique index answers 400, never 500', async () => {
      const accounts = t.gatehouse.accounts;
      const inputs = [0, 1].map((i) => ({
        username: 'indexed',
        email: `indexed${i}@example.com`,
        password: PASSWORD,
      }));
      const settled = await Promise.allSettled(inputs.map((input) => accounts.register(input)));
      const codes = settled
        .map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as { code: string }).code))
        .sort();
      assert.deepEqual(codes, ['USERNAME_TAKEN', 'ok']);
    });
  });
}

describe('closed registration', () => {
  test('GATEHOUSE_REGISTRATION=closed answers 403 and creates nothing', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_REGISTRATION: 'closed' } });
    try {
      const response = await t.app.inject({
        method: 'POST',
        url: '/register',
        payload: { username: 'alice', email: 'alice@example.com', password: PASSWORD },
      });
      assert.equal(response.statusCode, 403);
      assert.deepEqual(response.json(), { detail: 'Registration is closed' });
      assert.equal((await t.gatehouse.store.db.selectFrom('users').select('id').execute()).length, 0);
    } finally {
      await t.close();
    }
  });
});

describe('password minimum length setting', () => {
  test('GATEHOUSE_PASSWORD_MIN_LENGTH=15 refuses a 14-character password', async () => {
    const t = await createTestApp({ env: { GATEHOUSE_PASSWORD_MIN_LENGTH: '15' } });
    try {
      const response = await t.app.inject({
        method: 'POST',
        url: '/register',
        payload: { username: 'alice', email: 'alice@example.com', password: 'Zq9!Zq9!Zq9!Zq' },
      });
      assert.equal(response.statusCode, 422);
      assert.match(response.json().detail[0].msg, /at least 15/);
    } finally {
      await t.close();
    }
  });
});
