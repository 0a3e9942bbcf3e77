/**
 * Hooks that make `config.htmlForm` routes work for browsers: the CSRF defence of form posts
 * (same-origin, plus the session's token in a `csrf_token` field once signed in), the page-only
 * fields taken out of the body before validation, and success turned into `303 See Other`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CsrfError } from '../../auth/errors.ts';
import { checkSameOrigin } from '../guards.ts';
import { isFormPost, prefersHtml, safeReturnPath } from './negotiation.ts';

/** Fields the page adds to a form; the API routes behind the form never see them. */
const PAGE_FIELDS = ['csrf_token', 'return_to'] as const;

function tokensEqual(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function installHtmlForms(scope: FastifyInstance, trustedOrigins: readonly string[]): void {
  scope.decorateRequest('formPost', null);
  scope.decorateRequest('formCsrfExpected', null);

  scope.addHook('preValidation', async (request) => {
    const form = request.routeOptions.config?.htmlForm;
    if (form === undefined) return;
    // Before sign-in there is no session to tie a token to: a cross-site form post is refused by
    // Fetch Metadata and Origin, which every browser sends on a form POST. A request that asks
    // for HTML without either header is not a browser we can vouch for, so it is refused too.
    checkSameOrigin(request, trustedOrigins);
    const html = prefersHtml(request);
    if (html && request.headers.origin === undefined && request.headers['sec-fetch-site'] === undefined) {
      throw new CsrfError('form post without Origin or Sec-Fetch-Site');
    }
    const body = isFormPost(request) ? (request.body as Record<string, unknown> | undefined) : undefined;
    if (request.formCsrfExpected !== null && !tokensEqual(body?.csrf_token, request.formCsrfExpected)) {
      throw new CsrfError(body?.csrf_token === undefined ? 'missing form token' : 'wrong form token');
    }
    if (body !== undefined && typeof body === 'object') {
      const returnTo = safeReturnPath(body.return_to);
      for (const name of PAGE_FIELDS) delete body[name];
      if (html) {
        // A browser posts every field, empty or not; an empty one counts as not given, so a
        // required field is reported missing and an optional one keeps its default.
        for (const [name, value] of Object.entries(body)) if (value === '') delete body[name];
        for (const name of form.checkboxes ?? []) if (Object.hasOwn(body, name)) body[name] = true;
        request.formPost = { returnTo };
      }
    } else if (html) {
      request.formPost = { returnTo: undefined };
    }
  });

  scope.addHook('onSend', async (request, reply, payload) => {
    const form = request.routeOptions.config?.htmlForm;
    if (form === undefined || request.formPost === null) return payload;
    if (reply.statusCode < 200 || reply.statusCode >= 300) return payload;
    reply.code(303).header('location', form.successLocation(request));
    reply.removeHeader('content-type');
    return '';
  });
}
