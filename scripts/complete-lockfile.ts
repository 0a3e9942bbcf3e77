/**
 * The registry this project installs from serves only some platforms' binaries of packages like
 * @node-rs/argon2 and @biomejs/biome; npm then leaves the other platforms' optional packages out of
 * package-lock.json and `npm ci` refuses the lock as out of sync. This adds each missing optional
 * package with the os/cpu/libc it is built for (read from its name), so `npm ci` skips it on other
 * platforms without fetching it. Run after changing dependencies: `npm run lock:complete`.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  optional?: boolean;
  dev?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  optionalDependencies?: Record<string, string>;
}

const OS = [
  'android',
  'darwin',
  'freebsd',
  'linux',
  'win32',
  'openharmony',
  'netbsd',
  'openbsd',
  'sunos',
  'aix',
];
const CPU: [RegExp, string][] = [
  [/arm64|aarch64/, 'arm64'],
  [/x64|x86_64|amd64/, 'x64'],
  [/ia32|i686|x86(?!_)/, 'ia32'],
  [/arm(?!64)/, 'arm'],
  [/riscv64/, 'riscv64'],
  [/ppc64/, 'ppc64'],
  [/s390x/, 's390x'],
  [/loong64/, 'loong64'],
  [/wasm32/, 'wasm32'],
];

function platformOf(name: string): Pick<LockEntry, 'os' | 'cpu' | 'libc'> {
  const tail = name.split('/').pop() ?? name;
  const os = OS.find((candidate) => tail.includes(candidate));
  const cpu = CPU.find(([pattern]) => pattern.test(tail))?.[1];
  const libc =
    os === 'linux'
      ? tail.includes('musl')
        ? 'musl'
        : tail.includes('gnu')
          ? 'glibc'
          : undefined
      : undefined;
  return {
    ...(os ? { os: [os] } : {}),
    ...(cpu ? { cpu: [cpu] } : {}),
    ...(libc ? { libc: [libc] } : {}),
  };
}

const path = process.argv[2] ?? 'package-lock.json';
const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, LockEntry> };
let added = 0;
for (const [location, entry] of Object.entries(lock.packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = location === '' ? 'node_modules/' : `${location}/node_modules/`;
    if (lock.packages[`${base}${name}`] || lock.packages[`node_modules/${name}`]) continue;
    const platform = platformOf(name);
    if (!platform.os && !platform.cpu) continue;
    lock.packages[`node_modules/${name}`] = {
      version: spec.replace(/^[\^~=]/, ''),
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      ...platform,
    };
    added++;
  }
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform packages`);
