/** The fenced code blocks of the README and docs/, each with the heading it sits under. */
import { readdirSync, readFileSync } from 'node:fs';

export interface CodeBlock {
  readonly file: string;
  /** The nearest heading above the block, as written (`## API keys`). */
  readonly heading: string;
  readonly lang: string;
  readonly code: string;
}

/** README.md, bench/README.md and every page of docs/. */
export const DOC_FILES = [
  'README.md',
  'bench/README.md',
  ...readdirSync('docs')
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

export function codeBlocks(file: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  let heading = '';
  let fence: { lang: string; indent: number; lines: string[] } | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const trimmed = line.trim();
    if (fence) {
      if (trimmed === '```') {
        blocks.push({ file, heading, lang: fence.lang, code: `${fence.lines.join('\n')}\n` });
        fence = undefined;
      } else fence.lines.push(line.slice(Math.min(fence.indent, line.length - line.trimStart().length)));
    } else if (trimmed.startsWith('```'))
      fence = { lang: trimmed.slice(3), indent: line.length - line.trimStart().length, lines: [] };
    else if (/^#{1,6} /.test(line)) heading = line;
  }
  return blocks;
}

/** The one block of `lang` under `heading` in `file`. */
export function codeBlock(file: string, heading: string, lang: string): string {
  const found = codeBlocks(file).filter((block) => block.heading === heading && block.lang === lang);
  if (found.length !== 1) throw new Error(`${file}: ${found.length} \`\`\`${lang} blocks under ${heading}`);
  return found[0]?.code ?? '';
}
