/**
 * `app.gatehouse`, `request.principal` and `config.gatehouse` come with the public entry: a
 * program made of test/types/consumer.ts alone (and what it imports) type-checks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import ts from 'typescript';

test('a host app importing only the public entry sees Gatehouse’s Fastify types', () => {
  const configFile = ts.readConfigFile('tsconfig.json', ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(configFile.config, ts.sys, process.cwd());
  const program = ts.createProgram({
    rootNames: ['test/types/consumer.ts'],
    options: { ...options, noEmit: true, skipLibCheck: true },
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  assert.deepEqual(
    diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    [],
  );
  assert.ok(
    program.getSourceFiles().some((file) => file.fileName.endsWith('src/fastify-types.ts')),
    'the augmentation is part of the program through src/index.ts',
  );
});
