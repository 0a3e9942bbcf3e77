/**
 * HTML for the hosted pages: a tagged template that escapes every interpolation, and the one
 * layout every page shares. No inline script or style anywhere, so the pages' CSP can forbid both.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Markup that is already safe: produced by `html` or by a page helper, never by user input. */
export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (char) => ESCAPES[char] ?? char);
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** `html\`<p>${text}</p>\``: every value is escaped unless it is SafeHtml; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as Interpolation) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

export const STYLESHEET = readFileSync(new URL('./gatehouse.css', import.meta.url), 'utf8');
/** Part of the stylesheet's URL, so it can be cached for a year and still change with a release. */
export const STYLESHEET_VERSION = createHash('sha256').update(STYLESHEET).digest('hex').slice(0, 12);
export const STYLESHEET_PATH = '/assets/gatehouse.css';

/** The pages' Content-Security-Policy: nothing but same-origin styles, images and form posts. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface LayoutOptions {
  readonly appName: string;
  readonly title: string;
  /** Shown in the header when someone is signed in. */
  readonly signedInAs?: string | undefined;
}

export function layout(options: LayoutOptions, main: SafeHtml): string {
  const { appName, title } = options;
  return `<!doctype html>\n${
    html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · ${appName}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${STYLESHEET_PATH}?v=${STYLESHEET_VERSION}">
</head>
<body>
<header class="site-header">
<a class="brand" href="/account">${appName}</a>
${options.signedInAs ? html`<span class="signed-in">Signed in as <strong>${options.signedInAs}</strong></span>` : ''}
</header>
<main id="main" class="card">
<h1>${title}</h1>
${main}
</main>
</body>
</html>
`.value
  }`;
}
