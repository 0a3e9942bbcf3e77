/**
 * Hooks that make `config.htmlForm` routes work for browsers: the CSRF defence of form posts
 * (same-origin, plus the session's token in a `csrf_token` field once signed in), the page-only
 * fields taken out of the body before validation, and success turned into `303 See Other`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CsrfError } from '../../auth/errors.ts';
import { checkAnonymousWrite } from '../guards.ts';
import { onRoutesWith, prependRouteHook } from '../route-hooks.ts';
import type { HtmlForm } from './html-form.ts';
import { isFormPost, prefersHtml, safeReturnPath } from './negotiation.ts';

/** Fields the page adds to a form; the API routes behind the form never see them. */
const PAGE_FIELDS = ['csrf_token', 'return_to'] as const;

/**
 * Credentials a browser never attaches by itself, so no CSRF defence is needed for them (it does
 * attach a cookie, and HTTP Basic credentials it has cached).
 */
const SENT_ONLY_BY_SCRIPTS = new Set(['bearer', 'api_key']);

export function installHtmlForms(scope: FastifyInstance, trustedOrigins: readonly string[]): void {
  scope.decorateRequest('formPost', null);

  // On the routes with `config.gatehouse.htmlForm` only (see ../route-hooks.ts).
  onRoutesWith(scope, 'htmlForm', (route, form) => {
    prependRouteHook(route, 'preValidation', (request: FastifyRequest) => handleFormPost(request, form));
    prependRouteHook(route, 'onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown) =>
      answerFormPost(request, reply, payload, form),
    );
  });

  async function handleFormPost(request: FastifyRequest, form: HtmlForm): Promise<void> {
    const html = prefersHtml(request);
    // A bearer token or API key is no CSRF risk. Before sign-in there is no session to tie a
    // token to: a cross-site form post is refused by Fetch Metadata and Origin, which every
    // browser sends on a form POST. A request that asks for HTML without either header is not a
    // browser we can vouch for, so it is refused too. (A cookie session's form token is compared
    // by `checkFormCsrfToken`, for every route.)
    if (!SENT_ONLY_BY_SCRIPTS.has(request.principal?.method ?? '')) {
      checkAnonymousWrite(request, trustedOrigins);
      if (html && request.headers.origin === undefined && request.headers['sec-fetch-site'] === undefined) {
        throw new CsrfError('form post without Origin or Sec-Fetch-Site');
      }
    }
    const body = isFormPost(request) ? (request.body as Record<string, unknown> | undefined) : undefined;
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
  }
}

async function answerFormPost(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  form: HtmlForm,
): Promise<unknown> {
  if (request.formPost === null) return payload;
  if (reply.statusCode < 200 || reply.statusCode >= 300) return payload;
  reply.code(303).header('location', form.successLocation(request));
  reply.removeHeader('content-type');
  return '';
}
