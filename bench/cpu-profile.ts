/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) into the figures the bench's README
 * quotes: self time per function, and inclusive time per part of the code (a sample counts
 * for a part when any frame of its stack belongs to it), each as a share of busy time (every
 * sample but `(idle)`).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  /** Microseconds between samples (the first from `startTime`). */
  readonly timeDeltas: readonly number[];
  readonly endTime: number;
}

/**
 * The samples to count, from the end of the profile (the process stopped right after the load):
 * the last `lengthMs` before the last `skipLastMs` (start-up, module loading and the set-up
 * requests fall outside).
 */
export interface ProfileWindow {
  readonly lengthMs: number;
  readonly skipLastMs: number;
}

export interface ProfileSummary {
  readonly busySamples: number;
  /** Busy share of all samples. */
  readonly busyShare: number;
  /** The functions with the most self time, largest first. */
  readonly self: readonly { readonly name: string; readonly share: number }[];
  /** Inclusive share per part, in the order given. */
  readonly parts: readonly { readonly part: string; readonly share: number }[];
}

/** A part of the code: a name and the test its frames' URLs (or function names) pass. */
export type Part = readonly [name: string, matches: (url: string, functionName: string) => boolean];

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  return url === '' ? name : `${name} ${shortUrl(url)}:${lineNumber + 1}`;
}

export function summarizeProfile(
  file: string,
  parts: readonly Part[],
  window?: ProfileWindow,
  top = 15,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const last = profile.endTime - 1000 * (window?.skipLastMs ?? 0);
  const first = window === undefined ? Number.NEGATIVE_INFINITY : last - 1000 * window.lengthMs;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfCounts = new Map<string, number>();
  const partCounts = new Map<string, number>();
  // The parts a node's stack touches, memoised per node.
  const partsOfNode = new Map<number, readonly string[]>();
  const partsOf = (id: number): readonly string[] => {
    const known = partsOfNode.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    const up = parent.get(id);
    const inherited = up === undefined ? [] : partsOf(up);
    const own =
      node === undefined
        ? []
        : parts
            .filter(([, matches]) => matches(node.callFrame.url, node.callFrame.functionName))
            .map(([name]) => name);
    const all = own.length === 0 ? inherited : [...new Set([...inherited, ...own])];
    partsOfNode.set(id, all);
    return all;
  };

  let busy = 0;
  let counted = 0;
  let time = profile.endTime - profile.timeDeltas.reduce((a, b) => a + b, 0);
  for (const [i, id] of profile.samples.entries()) {
    time += profile.timeDeltas[i] ?? 0;
    if (time < first || time > last) continue;
    counted++;
    const node = byId.get(id);
    if (node === undefined || node.callFrame.functionName === '(idle)') continue;
    busy++;
    const name = frameName(node);
    selfCounts.set(name, (selfCounts.get(name) ?? 0) + 1);
    for (const part of partsOf(id)) partCounts.set(part, (partCounts.get(part) ?? 0) + 1);
  }
  const share = (count: number) => (busy === 0 ? 0 : count / busy);
  return {
    busySamples: busy,
    busyShare: counted === 0 ? 0 : busy / counted,
    self: [...selfCounts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => ({ name, share: share(count) })),
    parts: parts.map(([part]) => ({ part, share: share(partCounts.get(part) ?? 0) })),
  };
}
