/**
 * `npm run build`: every package's src/ → dist/ (JavaScript, declarations, source maps) through its
 * tsconfig.build.json — packages/* that have one, then the root; `node scripts/build.ts <dir>`
 * builds one. Node never strips types under node_modules, hence a build. tsc rewrites the `.ts`
 * import paths of the JavaScript (rewriteRelativeImportExtensions) but not of the declarations,
 * where a consumer's tsc would refuse them (TS5097), so they are rewritten here; the files src/
 * reads at run time (mail templates, the stylesheet, the common-password list) are copied next to
 * the code that reads them.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPOSITORY = join(import.meta.dirname, '..');
const TSC = join(REPOSITORY, 'node_modules', 'typescript', 'bin', 'tsc');

/** `'./x.ts'` and `import('../y.ts')` in a declaration file → `.js`; bare specifiers are left alone. */
const RELATIVE_TS = /(["'])(\.\.?\/[^"'\n]*?)\.ts\1/g;

function build(dir: string): void {
  const src = join(dir, 'src');
  const dist = join(dir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  execFileSync(process.execPath, [TSC, '-p', join(dir, 'tsconfig.build.json')], { stdio: 'inherit' });
  for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
    const path = join(entry.parentPath, entry.name);
    const text = readFileSync(path, 'utf8');
    const rewritten = text.replace(RELATIVE_TS, '$1$2.js$1');
    if (rewritten !== text) writeFileSync(path, rewritten);
  }
  cpSync(src, dist, { recursive: true, filter: (source) => !source.endsWith('.ts') });
}

if (process.argv[2] !== undefined) {
  build(resolve(process.argv[2]));
} else {
  // The workspace packages first: the root package's declarations import theirs from dist/.
  const packages = join(REPOSITORY, 'packages');
  const workspaces = existsSync(packages) ? readdirSync(packages).map((name) => join(packages, name)) : [];
  for (const dir of workspaces) if (existsSync(join(dir, 'tsconfig.build.json'))) build(dir);
  build(REPOSITORY);
}
