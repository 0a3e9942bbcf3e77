/**
 * `npm run build`, or `node scripts/build.ts <package directory>` for a workspace package: its
 * src/ → dist/ (JavaScript, declarations, source maps) through its tsconfig.build.json, because
 * Node never strips types under node_modules. tsc rewrites the `.ts` import paths of the JavaScript
 * (rewriteRelativeImportExtensions) but not of the declarations, where a consumer's tsc would
 * refuse them (TS5097), so they are rewritten here; the files src/ reads at run time (mail
 * templates, the stylesheet, the common-password list) are copied next to the code that reads them.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPOSITORY = join(import.meta.dirname, '..');
const PACKAGE = resolve(process.argv[2] ?? REPOSITORY);
const SRC = join(PACKAGE, 'src');
const DIST = join(PACKAGE, 'dist');

rmSync(DIST, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(REPOSITORY, 'node_modules/typescript/bin/tsc'), '-p', join(PACKAGE, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);

/** `'./x.ts'` and `import('../y.ts')` in a declaration file → `.js`; bare specifiers are left alone. */
const RELATIVE_TS = /(["'])(\.\.?\/[^"'\n]*?)\.ts\1/g;

for (const entry of readdirSync(DIST, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const path = join(entry.parentPath, entry.name);
  const text = readFileSync(path, 'utf8');
  const rewritten = text.replace(RELATIVE_TS, '$1$2.js$1');
  if (rewritten !== text) writeFileSync(path, rewritten);
}

cpSync(SRC, DIST, {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
});
