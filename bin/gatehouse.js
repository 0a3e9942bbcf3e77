#!/usr/bin/env node
// An installed package runs the build (dist/); a checkout of the repository, which has src/ and
// may have no build or a stale one, runs the source through Node's type stripping.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli.ts', import.meta.url);
const { main } = await import(existsSync(source) ? source.href : '../dist/cli.js');
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
