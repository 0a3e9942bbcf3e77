/**
 * The package as published: what its manifest promises, how its CLI starts, what it loads. The
 * packed package itself is installed into fresh apps on Node 22 and 24 by scripts/packaging-test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

interface Manifest {
  version: string;
  engines: { node: string };
  bin: Record<string, string>;
  files: string[];
  exports: Record<string, string | Record<string, string>>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;

function node(...args: string[]) {
  const result = spawnSync(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the package', () => {
  test('exports the build (types and import) to users, and src/ to this repository under the gatehouse-source condition', () => {
    const entries = Object.entries(manifest.exports).filter(([subpath]) => subpath !== './package.json');
    assert.deepEqual(
      entries.map(([subpath]) => subpath),
      ['.', './verify'],
    );
    for (const [subpath, target] of entries) {
      assert.equal(typeof target, 'object', subpath);
      const conditions = target as Record<string, string>;
      // Node and tsc take the first condition that matches: the source one only where asked for.
      assert.deepEqual(Object.keys(conditions), ['gatehouse-source', 'types', 'import'], subpath);
      assert.match(conditions['gatehouse-source'] ?? '', /^\.\/src\/.+\.ts$/, subpath);
      assert.match(conditions.types ?? '', /^\.\/dist\/.+\.d\.ts$/, subpath);
      assert.match(conditions.import ?? '', /^\.\/dist\/.+\.js$/, subpath);
    }
  });

  test('ships the build and the command only, built on prepack, with fastify as a peer', () => {
    // docs/ ships too: the README, the CLI's help and its errors point into it.
    assert.deepEqual(manifest.files, ['dist', 'bin', 'docs']);
    assert.deepEqual(manifest.bin, { gatehouse: './bin/gatehouse.js' });
    assert.match(manifest.scripts.prepack ?? '', /npm run build/);
    assert.equal(manifest.dependencies.fastify, undefined);
    assert.equal(manifest.peerDependencies.fastify, '^5');
    assert.ok(manifest.devDependencies.fastify, 'the repository still installs fastify');
  });

  test('engines starts at the oldest Node the packaging test runs on', () => {
    const script = readFileSync('scripts/packaging-test.ts', 'utf8');
    const versions = /GATEHOUSE_PACKAGING_NODES \?\? '([^']+)'/.exec(script)?.[1]?.split(' ') ?? [];
    assert.deepEqual(versions, ['22.16.0', '24']);
    assert.equal(manifest.engines.node, `^${versions[0]} || >=${versions[1]}`);
  });

  test('the command runs when node starts src/cli.ts or bin/gatehouse.js, and not when cli.ts is imported', () => {
    for (const entry of ['src/cli.ts', 'bin/gatehouse.js']) {
      const started = node(entry, '--version');
      assert.equal(started.code, 0, started.stderr);
      assert.equal(started.stdout.trim(), manifest.version);
    }
    const imported = node(
      '--input-type=module',
      '-e',
      "await import('./src/cli.ts'); console.log('imported');",
      '--',
      '--version',
    );
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(imported.stdout.trim(), 'imported');
  });

  test('node:sqlite is loaded by a SQLite database only, never by importing Gatehouse or opening PostgreSQL', () => {
    const probe = node(
      '--input-type=module',
      '-e',
      `
      const sqliteLoaded = () => process.moduleLoadList.some((name) => / sqlite$/.test(name));
      await import('./src/index.ts');
      const { openStore } = await import('./src/store/db.ts');
      const loaded = [sqliteLoaded()];
      const postgres = openStore('postgres://127.0.0.1:1/none');
      await postgres.close();
      loaded.push(sqliteLoaded());
      const sqlite = openStore('sqlite::memory:');
      await sqlite.close();
      loaded.push(sqliteLoaded());
      console.log(JSON.stringify(loaded));
      `,
    );
    assert.equal(probe.code, 0, probe.stderr);
    assert.deepEqual(JSON.parse(probe.stdout), [false, false, true]);
  });
});
