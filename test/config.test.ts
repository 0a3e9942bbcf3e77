import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfigFrom } from '../src/config/load.ts';
import { list, origin, SettingError } from '../src/config/parsers.ts';
import type { Setting } from '../src/config/setting.ts';
import {
  ConfigError,
  configFromOptions,
  type GatehouseOptions,
  loadConfig,
  parseDurationSeconds,
  SETTINGS,
} from '../src/config.ts';

const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('configuration', () => {
  test('defaults serve on localhost:8000 (issuer and public URL, where passkeys work) with SQLite in ./data and EdDSA tokens for 15 minutes', () => {
    const config = loadConfig({});
    assert.equal(config.host, 'localhost');
    assert.equal(config.port, 8000);
    assert.equal(config.databaseUrl, 'sqlite:./data/gatehouse.db');
    assert.equal(config.issuer, 'http://localhost:8000');
    assert.equal(config.publicUrl, config.issuer);
    assert.equal(config.audience, config.issuer);
    assert.equal(config.jwtAlg, 'EdDSA');
    assert.equal(config.accessTokenTtlSeconds, 900);
    assert.equal(config.passwordMinLength, 8);
    assert.equal(config.argon2MemoryKib, 19456);
    assert.equal(config.argon2Iterations, 2);
    assert.equal(config.argon2Parallelism, 1);
    assert.ok(Object.isFrozen(config));
  });

  test('durations take whole seconds or a number with a unit', () => {
    assert.equal(parseDurationSeconds('900'), 900);
    assert.equal(parseDurationSeconds('15m'), 900);
    assert.equal(parseDurationSeconds('10s'), 10);
    assert.equal(parseDurationSeconds('2h'), 7200);
    assert.equal(parseDurationSeconds('30d'), 2_592_000);
    assert.equal(loadConfig({ GATEHOUSE_ACCESS_TOKEN_TTL: '5m' }).accessTokenTtlSeconds, 300);
  });

  test('every bad value is reported at once, one line naming the variable and what is allowed', () => {
    const problems = problemsOf({
      GATEHOUSE_PORT: 'eighty',
      GATEHOUSE_ACCESS_TOKEN_TTL: '15 minutes',
      GATEHOUSE_JWT_ALG: 'none',
      GATEHOUSE_DATABASE_URL: 'mysql://x',
      GATEHOUSE_REGISTRATION: 'maybe',
    });
    assert.equal(problems.length, 5);
    assert.match(problems[0] ?? '', /^GATEHOUSE_PORT must be a whole number from 0 to 65535$/);
    assert.ok(problems.some((p) => /^GATEHOUSE_ACCESS_TOKEN_TTL must be whole seconds/.test(p)));
    assert.ok(problems.some((p) => /^GATEHOUSE_JWT_ALG must be one of EdDSA, ES256, RS256, HS256$/.test(p)));
    assert.ok(
      problems.some((p) => /^GATEHOUSE_DATABASE_URL must start with sqlite: or postgres:\/\//.test(p)),
    );
    assert.ok(problems.every((p) => !p.includes('\n')));
  });

  test('HS256 refuses to start without a secret of at least 32 bytes', () => {
    assert.match(problemsOf({ GATEHOUSE_JWT_ALG: 'HS256' })[0] ?? '', /GATEHOUSE_JWT_SECRET is required/);
    assert.match(
      problemsOf({ GATEHOUSE_JWT_ALG: 'HS256', GATEHOUSE_JWT_SECRET: 'short' })[0] ?? '',
      /at least 32 bytes/,
    );
    assert.match(
      problemsOf({
        GATEHOUSE_JWT_ALG: 'HS256',
        GATEHOUSE_JWT_SECRET: 'changeme-changeme-changeme-changeme',
      })[0] ?? '',
      /placeholder/,
    );
    assert.equal(
      loadConfig({ GATEHOUSE_JWT_ALG: 'HS256', GATEHOUSE_JWT_SECRET: 'k'.repeat(32) }).jwtAlg,
      'HS256',
    );
  });

  test('a secret given with an asymmetric algorithm is refused rather than ignored', () => {
    assert.match(
      problemsOf({ GATEHOUSE_JWT_SECRET: 'k'.repeat(40) })[0] ?? '',
      /only used with GATEHOUSE_JWT_ALG=HS256/,
    );
  });

  test('the admin bootstrap settings must come together', () => {
    assert.match(problemsOf({ GATEHOUSE_ADMIN_USERNAME: 'root' })[0] ?? '', /must be set together/);
  });

  test('an unknown GATEHOUSE_ variable is reported, catching typos', () => {
    assert.match(
      problemsOf({ GATEHOUSE_PROT: '9000' })[0] ?? '',
      /GATEHOUSE_PROT is not a Gatehouse setting/,
    );
  });

  test('CORS origins must be origins', () => {
    assert.deepEqual(
      loadConfig({ GATEHOUSE_CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).corsOrigins,
      ['https://a.example', 'http://localhost:3000'],
    );
    assert.match(problemsOf({ GATEHOUSE_CORS_ORIGINS: 'https://a.example/path' })[0] ?? '', /not an origin/);
  });

  test('the password minimum is never below 8', () => {
    assert.match(problemsOf({ GATEHOUSE_PASSWORD_MIN_LENGTH: '6' })[0] ?? '', /from 8 to 128/);
  });
});

describe('plugin options', () => {
  const optionProblem = (options: Record<string, unknown>): string => {
    try {
      configFromOptions(options as GatehouseOptions);
    } catch (error) {
      if (error instanceof TypeError) return error.message;
      throw error;
    }
    return '';
  };

  test('a typed option is taken as given, not as the environment string it would print as', () => {
    const config = configFromOptions({
      appName: 'Acme, Inc. = us',
      mailFrom: '"Acme, Inc." <no-reply@acme.example>',
      databaseUrl: 'postgres://app@db.example/auth?options=-c%20search_path%3Dauth',
      metricsToken: 'token=with,commas=',
      port: 0,
      accessTokenTtlSeconds: 86_400_000_000,
      refreshReuseGraceSeconds: 0,
      rateLimitLogin: { points: 5, durationSeconds: 90 },
      rateLimitRegister: null,
      loginMaxFailures: null,
      apiKeyMaxTtlSeconds: null,
      trustProxy: ['10.0.0.1', '::1/128'],
    });
    assert.equal(config.appName, 'Acme, Inc. = us');
    assert.equal(config.mailFrom, '"Acme, Inc." <no-reply@acme.example>');
    assert.equal(config.databaseUrl, 'postgres://app@db.example/auth?options=-c%20search_path%3Dauth');
    assert.equal(config.metricsToken, 'token=with,commas=');
    assert.equal(config.port, 0);
    assert.equal(config.accessTokenTtlSeconds, 86_400_000_000);
    assert.equal(config.refreshReuseGraceSeconds, 0);
    assert.deepEqual(config.rateLimitLogin, { points: 5, durationSeconds: 90 });
    assert.equal(config.rateLimitRegister, null);
    assert.equal(config.loginMaxFailures, null);
    assert.equal(config.apiKeyMaxTtlSeconds, null);
    assert.deepEqual(config.trustProxy, ['10.0.0.1', '::1/128']);
    assert.ok(Object.isFrozen(config));
  });

  test('unset options get the defaults the environment gets', () => {
    assert.deepEqual(configFromOptions({}), loadConfig({}));
  });

  test('an option of the wrong type is a TypeError naming the option and what it takes', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ port: '8000' }, /^gatehouse: option "port" must be a whole number from 0 to 65535$/],
      [{ port: 80.5 }, /^gatehouse: option "port" must be a whole number from 0 to 65535$/],
      [{ pages: 'off' }, /^gatehouse: option "pages" must be true or false$/],
      [
        { accessTokenTtlSeconds: '15m' },
        /^gatehouse: option "accessTokenTtlSeconds" must be a whole number of seconds$/,
      ],
      [{ accessTokenTtlSeconds: 0 }, /^gatehouse: option "accessTokenTtlSeconds" must be greater than zero$/],
      [
        { rateLimitLogin: '10/1m' },
        /^gatehouse: option "rateLimitLogin" must be \{ points, durationSeconds \}/,
      ],
      [
        { rateLimitLogin: { points: 10 } },
        /^gatehouse: option "rateLimitLogin" must be \{ points, durationSeconds \} \(points from 1 to 1000000, whole seconds above zero\), or null$/,
      ],
      [
        { loginMaxFailures: 0 },
        /^gatehouse: option "loginMaxFailures" must be a whole number from 1 to 100, or null$/,
      ],
      [{ trustProxy: '10.0.0.1' }, /^gatehouse: option "trustProxy" must be an array of strings$/],
      [{ jwtAlg: 'none' }, /^gatehouse: option "jwtAlg" must be one of EdDSA, ES256, RS256, HS256$/],
      [{ adminUsername: null }, /^gatehouse: option "adminUsername" must be a string$/],
    ];
    for (const [options, message] of cases) assert.match(optionProblem(options), message);
  });

  test('every bad option is named at once, each by its own name', () => {
    const message = optionProblem({
      rateLimitMail: { points: 0, durationSeconds: 60 },
      rateLimitMailAddress: { points: 0, durationSeconds: 60 },
      metricsToken: 'short',
    });
    assert.deepEqual(
      message
        .replace(/^gatehouse: /, '')
        .split('; ')
        .map((problem) => problem.split(' must')[0]),
      ['option "rateLimitMail"', 'option "rateLimitMailAddress"', 'option "metricsToken"'],
    );
  });

  test('a list entry holding a comma is refused, not split into two', () => {
    assert.match(
      optionProblem({ corsOrigins: ['https://a.example,https://b.example'] }),
      /^gatehouse: option "corsOrigins" has "https:\/\/a.example,https:\/\/b.example", which is not an origin/,
    );
  });

  test('rules across settings hold for options as for the environment', () => {
    assert.match(
      optionProblem({ jwtAlg: 'HS256' }),
      /option "jwtSecret" is required when GATEHOUSE_JWT_ALG=HS256/,
    );
    assert.match(
      optionProblem({ apiKeyTtlSeconds: 3600, apiKeyMaxTtlSeconds: 60 }),
      /option "apiKeyMaxTtlSeconds" must be at least GATEHOUSE_API_KEY_TTL/,
    );
    assert.equal(configFromOptions({ host: '::1', port: 9000 }).issuer, 'http://[::1]:9000');
  });
});

describe('the settings table', () => {
  // The shape of a family of variables (issue 15: GATEHOUSE_OIDC_<NAME>_ISSUER, …): one row that
  // reads every name matching its pattern. The loader needs to know nothing of it.
  const originFamily: Setting<'corsOrigins'> = {
    key: 'corsOrigins',
    env: 'GATEHOUSE_ORIGIN_<NAME>',
    description: 'An origin allowed by CORS, one variable each.',
    defaultText: '(unset)',
    reads: (name) => /^GATEHOUSE_ORIGIN_[A-Z0-9]+$/.test(name),
    fromEnv: (env) => {
      const names = Object.keys(env).filter((name) => /^GATEHOUSE_ORIGIN_[A-Z0-9]+$/.test(name));
      const problems: SettingError[] = [];
      const origins = names.sort().flatMap((name) => {
        try {
          return [origin(env[name] ?? '')];
        } catch (error) {
          if (!(error instanceof SettingError)) throw error;
          problems.push(new SettingError(error.message, name));
          return [];
        }
      });
      if (problems.length > 0) throw new AggregateError(problems);
      return origins;
    },
    fromOption: (value) => (value === undefined ? [] : list(origin).accept(value)),
  };
  const table = SETTINGS.map((row) => (row.key === 'corsOrigins' ? originFamily : row));

  test('a row may read a family of variables: their names are its own, and each problem names its variable', () => {
    const config = loadConfigFrom(table, {
      GATEHOUSE_ORIGIN_APP: 'https://app.example',
      GATEHOUSE_ORIGIN_ADMIN: 'https://admin.example',
    });
    assert.deepEqual(config.corsOrigins, ['https://admin.example', 'https://app.example']);
    const problems = (() => {
      try {
        loadConfigFrom(table, {
          GATEHOUSE_ORIGIN_A: 'nope',
          GATEHOUSE_ORIGIN_B: 'https://b.example/path',
          GATEHOUSE_ORIGN_C: 'https://c.example',
        });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    })();
    assert.deepEqual(problems, [
      'GATEHOUSE_ORIGIN_A has "nope", which is not an origin like https://app.example.com',
      'GATEHOUSE_ORIGIN_B has "https://b.example/path", which is not an origin like https://app.example.com',
      'GATEHOUSE_ORIGN_C is not a Gatehouse setting (see docs/settings.md)',
    ]);
  });

  test('the port is read from PORT when GATEHOUSE_PORT is unset, and a bad one is named PORT', () => {
    assert.equal(loadConfig({ PORT: '9000' }).port, 9000);
    assert.equal(loadConfig({ PORT: '9000', GATEHOUSE_PORT: '9001' }).port, 9001);
    assert.deepEqual(problemsOf({ PORT: 'x' }), ['PORT must be a whole number from 0 to 65535']);
  });
});
