import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { simpleParser } from 'mailparser';
import { loadConfig, maskSmtpUrl } from '../../src/config.ts';
import { MAIL_MAX_ATTEMPTS, MAIL_RETRY_BASE_MS } from '../../src/mail/outbox.ts';
import { timeOrderedId } from '../../src/store/mail-outbox.ts';
import {
  createTestApp,
  DATABASES,
  registerUser,
  TEST_DATABASE_URL,
  type TestApp,
} from '../support/gatehouse.ts';
import { mailTo, startSmtpServer, tokenFrom } from '../support/smtp.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mail-'));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const outboxRows = (t: TestApp) =>
  t.gatehouse.store.db
    .selectFrom('mail_outbox')
    .select(['status', 'attempts', 'next_attempt_at', 'last_error', 'text'])
    .execute();

describe('mail delivery', () => {
  test('without SMTP, each message is written as a parseable .eml and its link is logged', async () => {
    const dir = tempDir();
    const t = await createTestApp({
      env: { GATEHOUSE_OUTBOX_DIR: dir, GATEHOUSE_PUBLIC_URL: 'http://app.test' },
    });
    try {
      await registerUser(t.app, 'alice');
      await t.gatehouse.mail.runOnce();
      const files = readdirSync(dir);
      assert.equal(files.length, 1);
      assert.match(files[0] ?? '', /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-alice@example\.com\.eml$/);
      const mail = await simpleParser(readFileSync(join(dir, files[0] ?? '')));
      assert.deepEqual(mail.from?.value, [{ name: 'Gatehouse', address: 'no-reply@localhost' }]);
      const token = tokenFrom(mail, '/verify-email');
      const line = t
        .logs()
        .split('\n')
        .find((l) => l.includes('mail written to the outbox'));
      assert.ok(line, 'a log line for the written message');
      assert.equal(JSON.parse(line).link, `http://app.test/verify-email?token=${token}`);
      assert.equal(JSON.parse(line).level, 30, 'at info level');
      const others = t
        .logs()
        .split('\n')
        .filter((l) => l.includes(token));
      assert.equal(others.length, 1, 'the development link line is the only one with the token');
      assert.deepEqual(
        (await outboxRows(t)).map((r) => [r.status, r.text]),
        [['sent', '']],
        'a sent message keeps no body',
      );
    } finally {
      await t.close();
    }
  });

  test('a template directory replaces the built-in files one by one; values are escaped in HTML', async () => {
    const templates = tempDir();
    writeFileSync(join(templates, 'verify-email.subject.txt'), 'Welcome to {{app_name}}, {{username}}\n');
    writeFileSync(
      join(templates, 'verify-email.html'),
      '<html lang="en"><body><h1>{{app_name}}</h1><a href="{{link}}">go</a></body></html>',
    );
    const smtp = await startSmtpServer();
    const t = await createTestApp({
      env: {
        GATEHOUSE_SMTP_URL: smtp.url,
        GATEHOUSE_MAIL_TEMPLATES_DIR: templates,
        GATEHOUSE_APP_NAME: 'Acme <Tools> & Co',
      },
    });
    try {
      await registerUser(t.app, 'bob');
      await t.gatehouse.mail.runOnce();
      const [mail] = smtp.messages;
      assert.equal(mail?.subject, 'Welcome to Acme <Tools> & Co, bob');
      assert.match(String(mail?.html), /<h1>Acme &lt;Tools&gt; &amp; Co<\/h1>/);
      assert.match(
        mail?.text ?? '',
        /If you created it, confirm the address/,
        'the text part is still the built-in one',
      );
    } finally {
      await t.close();
      await smtp.close();
    }
  });

  test('an SMTP server with authentication gets the mail, and its password is never logged', async () => {
    const smtp = await startSmtpServer({ user: 'mailer', pass: 's3cret-smtp-pass' });
    assert.equal(maskSmtpUrl(smtp.url), `smtp://mailer:***@127.0.0.1:${smtp.port}`);
    const t = await createTestApp({
      env: { GATEHOUSE_SMTP_URL: smtp.url, GATEHOUSE_MAIL_FROM: 'Acme <auth@acme.test>' },
    });
    try {
      await registerUser(t.app, 'carol');
      await t.gatehouse.mail.runOnce();
      assert.equal(mailTo(smtp.messages, 'carol@example.com').length, 1);
      assert.deepEqual(smtp.messages[0]?.from?.value, [{ name: 'Acme', address: 'auth@acme.test' }]);
      assert.ok(!t.logs().includes('s3cret-smtp-pass'));
    } finally {
      await t.close();
      await smtp.close();
    }
  });

  test('GATEHOUSE_SMTP_URL must be an smtp:// or smtps:// URL', () => {
    assert.throws(() => loadConfig({ GATEHOUSE_SMTP_URL: 'http://mail.example.com' }), /GATEHOUSE_SMTP_URL/);
    assert.equal(
      loadConfig({ GATEHOUSE_SMTP_URL: 'smtps://u:p@mail.example.com:465' }).smtpUrl,
      'smtps://u:p@mail.example.com:465',
    );
  });

  test('with the SMTP server down, the request still succeeds; the message is retried with back-off, then marked failed', async () => {
    const smtp = await startSmtpServer();
    await smtp.close();
    const t = await createTestApp({ env: { GATEHOUSE_SMTP_URL: smtp.url } });
    try {
      const response = await t.app.inject({
        method: 'POST',
        url: '/register',
        payload: { username: 'dave', email: 'dave@example.com', password: 'correct horse battery staple' },
      });
      assert.equal(response.statusCode, 201);
      const token = /token=([A-Za-z0-9_-]+)/.exec((await outboxRows(t))[0]?.text ?? '')?.[1];
      assert.ok(token);
      for (let attempt = 1; attempt <= MAIL_MAX_ATTEMPTS; attempt++) {
        await t.gatehouse.mail.runOnce();
        const [row] = await outboxRows(t);
        assert.equal(row?.attempts, attempt);
        if (attempt < MAIL_MAX_ATTEMPTS) {
          assert.equal(row?.status, 'pending');
          const delay = MAIL_RETRY_BASE_MS * 2 ** (attempt - 1);
          assert.equal(Number(row?.next_attempt_at), t.clock.now() + delay);
          await t.gatehouse.mail.runOnce();
          assert.equal((await outboxRows(t))[0]?.attempts, attempt, 'not retried before it is due');
          t.clock.advance(delay);
        } else {
          assert.equal(row?.status, 'failed');
          assert.match(row?.last_error ?? '', /ECONNREFUSED|ECONNECTION/);
          assert.ok(!(row?.last_error ?? '').includes(token));
        }
      }
      assert.match(t.logs(), /mail could not be delivered; marked failed/);
      assert.ok(!t.logs().includes(token), 'no token in the logs');
    } finally {
      await t.close();
    }
  });

  test('a message the server refuses is retried and delivered once it accepts', async () => {
    const smtp = await startSmtpServer();
    const t = await createTestApp({ env: { GATEHOUSE_SMTP_URL: smtp.url } });
    try {
      smtp.rejecting = true;
      await registerUser(t.app, 'erin');
      await t.gatehouse.mail.runOnce();
      const [refused] = await outboxRows(t);
      assert.equal(refused?.status, 'pending');
      assert.match(refused?.last_error ?? '', /550/);
      smtp.rejecting = false;
      t.clock.advance(MAIL_RETRY_BASE_MS);
      await t.gatehouse.mail.runOnce();
      assert.equal((await outboxRows(t))[0]?.status, 'sent');
      assert.equal(mailTo(smtp.messages, 'erin@example.com').length, 1);
    } finally {
      await t.close();
      await smtp.close();
    }
  });

  test('queued mail survives a restart: enqueued, closed, reopened on the same SQLite file, then delivered', async () => {
    const smtp = await startSmtpServer();
    const databaseUrl = `sqlite:${join(tempDir(), 'gatehouse.db')}`;
    const env = { GATEHOUSE_SMTP_URL: smtp.url };
    try {
      const first = await createTestApp({ databaseUrl, env });
      await registerUser(first.app, 'frank');
      await first.close();
      assert.equal(smtp.messages.length, 0);
      const second = await createTestApp({ databaseUrl, env });
      try {
        await second.gatehouse.mail.runOnce();
        assert.equal(mailTo(smtp.messages, 'frank@example.com').length, 1);
      } finally {
        await second.close();
      }
    } finally {
      await smtp.close();
    }
  });

  test('two processes sharing PostgreSQL send each message once', { skip: !TEST_DATABASE_URL }, async () => {
    const smtp = await startSmtpServer();
    const a = await createTestApp({ databaseUrl: TEST_DATABASE_URL, env: { GATEHOUSE_SMTP_URL: smtp.url } });
    const b = await createTestApp({
      databaseUrl: TEST_DATABASE_URL,
      env: { GATEHOUSE_SMTP_URL: smtp.url },
      sharePgSchemaOf: a,
    });
    try {
      for (let i = 0; i < 8; i++) await registerUser(a.app, `user${i}`);
      await Promise.all([a.gatehouse.mail.runOnce(), b.gatehouse.mail.runOnce()]);
      assert.equal(smtp.messages.length, 8);
      assert.equal(new Set(smtp.messages.map((m) => m.messageId)).size, 8);
    } finally {
      await b.close();
      await a.close();
      await smtp.close();
    }
  });

  test('outbox ids sort in the order they were made: by time, then by a counter within a millisecond', () => {
    const base = Date.UTC(2026, 11, 2);
    // 250 messages in each millisecond, the milliseconds a step apart.
    const made = Array.from({ length: 5000 }, (_, i) => timeOrderedId(base + Math.floor(i / 250) * 7));
    assert.ok(
      [...made].sort().every((id, i) => id === made[i]),
      'sorting keeps the order they were made in',
    );
    assert.equal(new Set(made).size, made.length);
    for (const id of made.slice(0, 20))
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7');
  });

  for (const database of DATABASES) {
    test(`messages queued in the same millisecond are sent in the order they were queued (${database.name})`, async () => {
      const smtp = await startSmtpServer();
      const t = await createTestApp({ databaseUrl: database.url, env: { GATEHOUSE_SMTP_URL: smtp.url } });
      try {
        const subjects = Array.from({ length: 12 }, (_, i) => `message ${i}`);
        // The clock stands still: every message has the same time.
        for (const subject of subjects)
          await t.gatehouse.mail.enqueue({ to: 'queue@example.com', subject, text: subject, html: subject });
        await t.gatehouse.mail.runOnce();
        assert.deepEqual(
          smtp.messages.map((m) => m.subject),
          subjects,
        );
      } finally {
        await t.close();
        await smtp.close();
      }
    });
  }
});
