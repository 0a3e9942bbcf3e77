/**
 * Preloaded (`node --import`) into a spawned server: this process resolves `localhost` as a
 * machine whose hosts file lists `::1` first, whatever this machine's says, so a test can check
 * that a server asked to listen on localhost is reachable at both loopback addresses.
 */
import dns, { type LookupAddress } from 'node:dns';

const LOCALHOST: LookupAddress[] = [
  { address: '::1', family: 6 },
  { address: '127.0.0.1', family: 4 },
];
const systemLookup = dns.lookup;

type Callback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

function lookup(hostname: string, options: unknown, callback?: Callback): void {
  const done = (typeof options === 'function' ? options : callback) as Callback;
  const opts = (typeof options === 'object' && options !== null ? options : {}) as dns.LookupOptions;
  if (hostname !== 'localhost') {
    (systemLookup as (...args: unknown[]) => void)(hostname, options, callback);
    return;
  }
  const family =
    typeof options === 'number'
      ? options
      : opts.family === 'IPv4'
        ? 4
        : opts.family === 'IPv6'
          ? 6
          : opts.family;
  const matching = LOCALHOST.filter((entry) => !family || entry.family === family);
  const first = matching[0] as LookupAddress;
  process.nextTick(() => (opts.all ? done(null, matching) : done(null, first.address, first.family)));
}

(dns as { lookup: unknown }).lookup = lookup;
