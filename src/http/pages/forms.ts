/**
 * Form building blocks: every input has a label, its hint and error are tied to it with
 * `aria-describedby`, and a failed post shows an error summary that takes focus first.
 */
import { html, type SafeHtml } from './layout.ts';

/** What a failed form post shows: messages for the whole form, per field, and the values to keep. */
export interface FormFailure {
  readonly status: number;
  readonly summary: readonly string[];
  readonly fields: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, string>>;
}

export const NO_FAILURE: FormFailure = { status: 200, summary: [], fields: {}, values: {} };

export interface FieldOptions {
  readonly name: string;
  readonly label: string;
  readonly type?: 'text' | 'email' | 'password';
  readonly autocomplete?: string;
  readonly hint?: string;
  readonly required?: boolean;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** Form prefix, so two forms on one page have distinct ids. */
  readonly form?: string;
}

const idOf = (options: { name: string; form?: string }) =>
  `${options.form ? `${options.form}-` : ''}${options.name.replace(/_/g, '-')}`;

export function field(options: FieldOptions, failure: FormFailure = NO_FAILURE): SafeHtml {
  const id = idOf(options);
  const error = failure.fields[options.name];
  const type = options.type ?? 'text';
  // Passwords are never written back into a page.
  const value = type === 'password' ? undefined : failure.values[options.name];
  const describedBy = [options.hint ? `${id}-hint` : '', error ? `${id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return html`<div class="field${error ? ' field-error' : ''}">
<label for="${id}">${options.label}</label>
${options.hint ? html`<p class="hint" id="${id}-hint">${options.hint}</p>` : ''}
${error ? html`<p class="error-message" id="${id}-error"><span class="visually-hidden">Error: </span>${error}</p>` : ''}
<input id="${id}" name="${options.name}" type="${type}"${html`${options.autocomplete ? html` autocomplete="${options.autocomplete}"` : ''}${options.required === false ? '' : html` required`}${options.minLength ? html` minlength="${options.minLength}"` : ''}${options.maxLength ? html` maxlength="${options.maxLength}"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}${error ? html` aria-invalid="true"` : ''}${value ? html` value="${value}"` : ''}`}>
</div>`;
}

export function hidden(name: string, value: string | undefined): SafeHtml {
  return value === undefined ? html`` : html`<input type="hidden" name="${name}" value="${value}">`;
}

/**
 * The error summary: first in the main content and focused on load (`autofocus` works without
 * JavaScript), each entry linking to its field.
 */
export function errorSummary(
  failure: FormFailure,
  labels: Readonly<Record<string, string>>,
  form = '',
): SafeHtml {
  const entries = [
    ...failure.summary.map((message) => html`<li>${message}</li>`),
    ...Object.entries(failure.fields).map(
      ([name, message]) =>
        html`<li><a href="#${idOf({ name, form })}">${labels[name] ?? name}: ${message}</a></li>`,
    ),
  ];
  if (entries.length === 0) return html``;
  return html`<div class="error-summary" id="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1" autofocus>
<h2 id="error-summary-title">There is a problem</h2>
<ul>${entries}</ul>
</div>`;
}

export function notice(message: string | undefined): SafeHtml {
  return message ? html`<p class="notice" role="status">${message}</p>` : html``;
}
