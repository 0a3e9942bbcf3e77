/**
 * The one mechanism that lets an API route also serve a plain HTML form. A route opts in with
 * `config: { gatehouse: { htmlForm } }`; when the request prefers HTML (see `prefersHtml`), success becomes a
 * `303 See Other` to `successLocation` and failure re-renders the form page with the error tied
 * to its field, with the same 4xx status the JSON answer would have. Other clients get exactly
 * the JSON they always got.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AnyGatehouseError } from '../../auth/errors.ts';
import type { FormFailure } from './forms.ts';
import { PAGE_CSP } from './layout.ts';
import { PASSKEY_PAGE_CSP } from './passkey-script.ts';

export interface HtmlForm {
  /** The form page, re-rendered after a failed post. */
  render(request: FastifyRequest, failure: FormFailure): string | Promise<string>;
  /** Where a successful post sends the browser: a same-origin path. */
  successLocation(request: FastifyRequest): string;
  /** Field names the service uses that the form names differently (`password` → `new_password`). */
  readonly fieldNames?: Readonly<Record<string, string>>;
  /** Checkbox fields: a browser posts a checked one (any value) and omits an unchecked one. */
  readonly checkboxes?: readonly string[];
  /** The page may run the passkey script: it is sent with that script's CSP. */
  readonly scripted?: boolean;
}

/** What the page layer learned from a form post before validation. */
export interface FormPost {
  /** The `return_to` field when it is a safe same-origin path. */
  readonly returnTo: string | undefined;
}

export function setPageHeaders(reply: FastifyReply): FastifyReply {
  return (
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .header('cache-control', 'no-store')
      // Not no-referrer: with it browsers send `Origin: null` on form posts, which the CSRF check refuses.
      // Same-origin keeps tokens in page URLs (reset links) from ever reaching another site.
      .header('referrer-policy', 'same-origin')
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
  );
}

export async function sendPage(reply: FastifyReply, status: number, body: string): Promise<FastifyReply> {
  return setPageHeaders(reply).code(status).send(body);
}

export interface ValidationIssueLike {
  readonly loc: readonly (string | number)[];
  readonly msg: string;
}

const SECRET_FIELD = /password|token|secret/i;

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function submittedValues(request: FastifyRequest): Record<string, string> {
  const body = request.body;
  const values: Record<string, string> = {};
  if (typeof body !== 'object' || body === null) return values;
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === 'string' && !SECRET_FIELD.test(name)) values[name] = value;
  }
  return values;
}

const FIELD_OF: Partial<Record<AnyGatehouseError['code'], string>> = {
  USERNAME_TAKEN: 'username',
  EMAIL_TAKEN: 'email',
  INVALID_CREDENTIALS: 'password',
  INCORRECT_PASSWORD: 'current_password',
};

function domainFailure(error: AnyGatehouseError): Pick<FormFailure, 'summary' | 'fields'> {
  if (error.code === 'INVALID_FIELD') return { summary: [], fields: { [error.field]: error.message } };
  const field = FIELD_OF[error.code];
  if (field !== undefined) return { summary: [], fields: { [field]: error.message } };
  if (error.code === 'CSRF_FAILED') {
    return {
      summary: ['This form could not be accepted: it has expired or was sent from another site. Try again.'],
      fields: {},
    };
  }
  if (error.code === 'RATE_LIMITED' || error.code === 'LOGIN_THROTTLED' || error.code === 'OVERLOADED') {
    return {
      summary: [`Too many attempts. Try again in ${error.retryAfterSeconds} seconds.`],
      fields: {},
    };
  }
  if (error.code === 'REAUTH_REQUIRED') {
    return { summary: ['This change needs a recent sign-in: confirm your password first.'], fields: {} };
  }
  if (error.code === 'NOT_AUTHENTICATED' || error.code === 'INVALID_TOKEN') {
    return { summary: ['Your session has ended. Sign in again.'], fields: {} };
  }
  return { summary: [error.message], fields: {} };
}

function issuesFailure(
  detail: string | readonly ValidationIssueLike[],
): Pick<FormFailure, 'summary' | 'fields'> {
  if (typeof detail === 'string') return { summary: [detail], fields: {} };
  const fields: Record<string, string> = {};
  const summary: string[] = [];
  for (const issue of detail) {
    const name = issue.loc[0] === 'body' && typeof issue.loc[1] === 'string' ? issue.loc[1] : undefined;
    const message = issue.msg === 'Field required' ? 'This field is required' : capitalize(issue.msg);
    if (name === undefined) summary.push(message);
    else fields[name] ??= message;
  }
  return { summary, fields };
}

/** What the form page shows after a failed post: messages by field where the failure names one. */
export function formFailureOf(
  form: HtmlForm,
  request: FastifyRequest,
  status: number,
  failure: { error: AnyGatehouseError } | { detail: string | readonly ValidationIssueLike[] },
): FormFailure {
  const parts = 'error' in failure ? domainFailure(failure.error) : issuesFailure(failure.detail);
  const fields = Object.fromEntries(
    Object.entries(parts.fields).map(([name, message]) => [form.fieldNames?.[name] ?? name, message]),
  );
  return { status, summary: parts.summary, fields, values: submittedValues(request) };
}

export async function sendFormFailure(
  form: HtmlForm,
  request: FastifyRequest,
  reply: FastifyReply,
  failure: FormFailure,
): Promise<FastifyReply> {
  const body = await form.render(request, failure);
  setPageHeaders(reply).code(failure.status);
  if (form.scripted) reply.header('content-security-policy', PASSKEY_PAGE_CSP);
  return reply.send(body);
}
