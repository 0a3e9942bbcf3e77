/**
 * The argon2id limit of the core this process is pinned to: `node bench/argon2-limit.ts <hash>
 * <concurrency> <count>` verifies `count` times, `concurrency` at a time, and prints verifies/s
 * and the CPU time of one verify in microseconds (the process's, threadpool included).
 */
import { verify } from '@node-rs/argon2';

const [storedHash = '', concurrency = '1', count = '40'] = process.argv.slice(2);
const PASSWORD = 'correct horse battery staple';
const total = Number(count);
await verify(storedHash, PASSWORD);
let started = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (started++ < total) await verify(storedHash, PASSWORD);
  }),
);
const cpu = process.cpuUsage(cpu0);
console.log(`${total / ((performance.now() - t0) / 1000)} ${(cpu.user + cpu.system) / total}`);
