/**
 * The import rules of ARCHITECTURE.md, read from the source: requests flow http/ → auth/ →
 * store/, and no layer reaches up. A rule broken here is a design mistake, not a style nit.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file imports or re-exports (static, dynamic and `import type`). */
function importsOf(source: string): string[] {
  const specifiers = [
    ...source.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ];
  return specifiers.map((m) => m[1] ?? '');
}

interface Import {
  readonly file: string;
  /** A path under src/ for a relative import, else the package name as written. */
  readonly target: string;
}

function importsUnder(folder: string): Import[] {
  return sourceFiles(join(SRC, folder)).flatMap((path) =>
    importsOf(readFileSync(path, 'utf8')).map((specifier) => ({
      file: relative(ROOT, path),
      target: specifier.startsWith('.') ? relative(SRC, resolve(dirname(path), specifier)) : specifier,
    })),
  );
}

function violations(folder: string, forbidden: (target: string) => boolean): string[] {
  return importsUnder(folder)
    .filter((i) => forbidden(i.target))
    .map((i) => `${i.file} imports ${i.target}`);
}

const under = (target: string, ...folders: string[]) =>
  folders.some((folder) => target === `${folder}.ts` || target.startsWith(`${folder}/`));

describe('import rules between layers', () => {
  test('the import reader sees static, type-only, re-exported and dynamic imports', () => {
    const source = [
      "import { a } from '../http/guards.ts';",
      "import type { B } from '../store/db.ts';",
      'import {\n  c,\n  d,\n} from "fastify";',
      "export { e } from './e.ts';",
      "export * from '../errors.ts';",
      "import './side-effect.ts';",
      "const f = await import('../plugin.ts');",
    ].join('\n');
    assert.deepEqual(importsOf(source).sort(), [
      '../errors.ts',
      '../http/guards.ts',
      '../plugin.ts',
      '../store/db.ts',
      './e.ts',
      './side-effect.ts',
      'fastify',
    ]);
  });

  test('auth/ imports nothing from http/, the plugin or Fastify', () => {
    assert.deepEqual(
      violations(
        'auth',
        (t) => under(t, 'http', 'plugin', 'server') || t === 'fastify' || t.startsWith('@fastify/'),
      ),
      [],
    );
  });

  test('store/ imports nothing above it', () => {
    // Its own modules, the errors module and the clock; never auth/, http/ or the services.
    assert.deepEqual(
      violations('store', (t) => t.endsWith('.ts') && !under(t, 'store', 'errors', 'clock')),
      [],
    );
  });

  test('http/ never imports store/', () => {
    assert.deepEqual(
      violations('http', (t) => under(t, 'store')),
      [],
    );
  });

  test('verify/ imports neither store/ nor http/', () => {
    assert.deepEqual(
      violations('verify', (t) => under(t, 'store', 'http', 'plugin')),
      [],
    );
  });

  test('the ground-floor errors modules import nothing outside errors/', () => {
    // src/errors.ts gathers src/errors/*.ts; each of those may import only its siblings.
    assert.deepEqual(
      importsOf(readFileSync(join(SRC, 'errors.ts'), 'utf8')).filter((s) => !s.startsWith('./errors/')),
      [],
    );
    assert.deepEqual(
      violations('errors', (t) => !under(t, 'errors') || t === 'errors.ts'),
      [],
    );
  });
});

describe('thin routes', () => {
  // The files that declare routes (hooks that read a body that failed validation are not routes).
  const routeFiles = [
    ...sourceFiles(join(SRC, 'http', 'routes')),
    ...sourceFiles(join(SRC, 'http', 'pages')),
  ].filter((path) => /\bapp\.(?:get|post|put|patch|delete|route)\s*[<(]/.test(readFileSync(path, 'utf8')));

  test('http/ never imports the composition root: a route plugin receives the services it uses', () => {
    assert.deepEqual(
      violations('http', (t) => t === 'gatehouse.ts'),
      [],
    );
  });

  test('routes take their request types from their schemas, never a hand-written restatement', () => {
    const restated = routeFiles.flatMap((path) => {
      const source = readFileSync(path, 'utf8');
      return [
        ...source.matchAll(/\bapp\.(?:get|post|put|patch|delete|route)\s*<\s*\{/g),
        ...source.matchAll(/\b(?:Body|Querystring|Params|Headers)\s*:\s*[A-Z{]/g),
        ...source.matchAll(/\brequest\.(?:body|query|params)\s+as\b/g),
      ].map((m) => `${relative(ROOT, path)}: ${m[0]}`);
    });
    assert.ok(routeFiles.length >= 15, 'the route files are found');
    assert.deepEqual(restated, []);
  });

  test('the files of auth/ and http/ stay under ~350 lines', () => {
    const long = [...sourceFiles(join(SRC, 'auth')), ...sourceFiles(join(SRC, 'http'))]
      .map((path) => ({
        path: relative(ROOT, path),
        lines: readFileSync(path, 'utf8').split('\n').length - 1,
      }))
      .filter((file) => file.lines > 350);
    assert.deepEqual(long, []);
  });
});
