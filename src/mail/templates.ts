/**
 * Mail templates: `<name>.subject.txt`, `<name>.txt` and `<name>.html` with `{{placeholder}}`s.
 * The built-in ones live next to this file; an operator's directory replaces them file by file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type MailTemplateName =
  | 'verify-email'
  | 'reset-password'
  | 'magic-link'
  | 'confirm-email'
  | 'email-change-notice'
  | 'factor-notice';

export const MAIL_TEMPLATE_NAMES: readonly MailTemplateName[] = [
  'verify-email',
  'reset-password',
  'magic-link',
  'confirm-email',
  'email-change-notice',
  'factor-notice',
];

const BUILTIN_DIR = join(import.meta.dirname, 'templates');
const PARTS = ['subject.txt', 'txt', 'html'] as const;

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export type TemplateVars = Readonly<Record<string, string>>;

export interface MailTemplates {
  render(name: MailTemplateName, vars: TemplateVars): RenderedMail;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

function fill(template: string, vars: TemplateVars, encode: (value: string) => string): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (whole, key: string) =>
    Object.hasOwn(vars, key) ? encode(vars[key] ?? '') : whole,
  );
}

/** Reads every template once, at start, so a missing or unreadable file fails then, not mid-flow. */
export function loadMailTemplates(overrideDir: string | undefined): MailTemplates {
  const files = new Map<string, string>();
  for (const name of MAIL_TEMPLATE_NAMES) {
    for (const part of PARTS) {
      const file = `${name}.${part}`;
      const override = overrideDir === undefined ? undefined : join(overrideDir, file);
      const path = override !== undefined && existsSync(override) ? override : join(BUILTIN_DIR, file);
      files.set(file, readFileSync(path, 'utf8'));
    }
  }
  const get = (file: string) => files.get(file) ?? '';
  return {
    render(name, vars) {
      return {
        // A header line: no line breaks, whatever a variable holds.
        subject: fill(get(`${name}.subject.txt`), vars, (v) => v)
          .replace(/[\r\n]+/g, ' ')
          .trim(),
        text: fill(get(`${name}.txt`), vars, (v) => v),
        html: fill(get(`${name}.html`), vars, escapeHtml),
      };
    },
  };
}
