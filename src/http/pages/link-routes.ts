/**
 * The pages an emailed link opens. Opening a link (GET) never spends its token — mail scanners
 * and link previews fetch links too — it only looks at it (`peekToken`) and shows a button that
 * posts the token to the route that spends it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { EmailFlowService, EmailTokenPurpose } from '../../auth/email-flows.ts';
import type { SessionCookie } from '../cookies.ts';
import { requestContext } from '../request-context.ts';
import {
  type LinkState,
  renderConfirmLinkPage,
  renderDonePage,
  renderForgotPasswordPage,
  renderResetPasswordPage,
} from './email-pages.ts';
import { challengePage } from './enrollment-pages.ts';
import { type MfaPageContext, sendPasskeyPage } from './factor-pages.ts';
import { sendPage } from './html-form.ts';
import { html } from './layout.ts';
import type { PageSettings } from './login-page.ts';
import { DEFAULT_RETURN_PATH, LINK_PAGES, type PageForms } from './page-forms.ts';

const LinkQuery = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(Type.String({ maxLength: 32 })),
  notice: Type.Optional(Type.String({ maxLength: 32 })),
});

export interface LinkRouteOptions {
  readonly emailFlows: EmailFlowService;
  readonly cookie: SessionCookie;
  readonly forms: PageForms;
  readonly settings: PageSettings;
  /** Where the routes are mounted (`''` or the plugin's prefix). */
  readonly basePath: string;
  /** Second factors: a magic link into an account with one goes on to the second step. */
  readonly mfaPages?: MfaPageContext | undefined;
}

export const linkRoutes: FastifyPluginAsyncTypebox<LinkRouteOptions> = async (app, options) => {
  const { emailFlows, cookie, forms, settings } = options;
  const schema = { hide: true, querystring: LinkQuery };

  const look = async (token: string | undefined, purpose: EmailTokenPurpose): Promise<LinkState> => ({
    token: token ?? '',
    usable: token !== undefined && token !== '' && (await emailFlows.peekToken(token, purpose)),
  });
  const statusOf = (link: LinkState) => (link.usable ? 200 : 400);

  app.get('/forgot-password', { schema }, async (request, reply) =>
    sendPage(reply, 200, renderForgotPasswordPage(settings, { sent: request.query.notice === 'sent' })),
  );

  app.get('/reset-password', { schema }, async (request, reply) => {
    const token = request.query.token ?? '';
    const reset = token === '' ? undefined : await emailFlows.describeResetLink(token);
    const link = { token, usable: reset !== undefined, reset };
    return sendPage(reply, statusOf(link), renderResetPasswordPage(settings, link));
  });

  app.get('/verify-email', { schema }, async (request, reply) => {
    if (request.query.status === 'verified') {
      return sendPage(
        reply,
        200,
        renderDonePage(
          settings,
          'Email address verified',
          'Thank you: your email address is verified.',
          html`<p><a href="/account">Go to your account</a></p>`,
        ),
      );
    }
    const link = await look(request.query.token, 'verify');
    return sendPage(reply, statusOf(link), renderConfirmLinkPage(settings, link, LINK_PAGES.verify));
  });

  app.get('/magic-link', { schema }, async (request, reply) => {
    const link = await look(request.query.token, 'magic');
    return sendPage(reply, statusOf(link), renderConfirmLinkPage(settings, link, LINK_PAGES.magic));
  });

  app.get('/confirm-email', { schema }, async (request, reply) => {
    if (request.query.status === 'confirmed') {
      return sendPage(
        reply,
        200,
        renderDonePage(
          settings,
          'Email address changed',
          'Your account now uses the new email address.',
          html`<p><a href="/account">Go to your account</a></p>`,
        ),
      );
    }
    const link = await look(request.query.token, 'email_change');
    return sendPage(reply, statusOf(link), renderConfirmLinkPage(settings, link, LINK_PAGES.email_change));
  });

  // The magic link's button: signs in with a session cookie, exactly as POST /login does.
  app.post(
    '/magic-link/sign-in',
    {
      config: { gatehouse: { noStore: true, htmlForm: forms.magicLinkSignIn } },
      schema: { hide: true, body: Type.Object({ token: Type.String({ maxLength: 200 }) }) },
    },
    async (request, reply) => {
      const returnTo = request.formPost?.returnTo;
      const signedIn = await emailFlows
        .signInWithMagicLinkCookie(request.body.token, requestContext(request))
        .catch((error: unknown) => {
          // As after a password: the second step's page (or enrolment's) instead of the 403.
          const page = options.mfaPages && challengePage(options.mfaPages, error, returnTo);
          if (page === undefined) throw error;
          return sendPasskeyPage(reply, 200, page);
        });
      if (!('cookieValue' in signedIn)) return signedIn;
      const { cookieValue } = signedIn;
      reply.setCookie(cookie.name, cookieValue, cookie.options);
      return reply
        .code(303)
        .header('location', returnTo ?? `${options.basePath}${DEFAULT_RETURN_PATH}`)
        .send();
    },
  );
};
