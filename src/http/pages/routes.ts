/**
 * The hosted pages (GATEHOUSE_PAGES): server-rendered forms that post to the same routes as API
 * clients, plus the few page-only posts a form needs where the API uses DELETE.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { clearSessionCookie, type SessionCookie } from '../cookies.ts';
import { type Guards, principalOf } from '../guards.ts';
import { requestContext } from '../request-context.ts';
import { ACCOUNT_NOTICES, renderAccountPage } from './account-page.ts';
import { enrollmentForm, enrollmentPageRoutes } from './enrollment-pages.ts';
import { accountFactorParts, factorPageRoutes, passkeySignIn, sendPasskeyPage } from './factor-pages.ts';
import { sendPage } from './html-form.ts';
import { STYLESHEET, STYLESHEET_PATH, STYLESHEET_VERSION } from './layout.ts';
import { linkRoutes } from './link-routes.ts';
import { LOGIN_NOTICES, renderLoginPage } from './login-page.ts';
import { safeReturnPath } from './negotiation.ts';
import type { PageContext, PageForms } from './page-forms.ts';
import { renderRegisterPage } from './register-page.ts';

const PageQuery = Type.Object({
  // No maxLength: an over-long return_to is dropped by safeReturnPath, not answered with JSON.
  return_to: Type.Optional(Type.String()),
  notice: Type.Optional(Type.String({ maxLength: 64 })),
  login_hint: Type.Optional(Type.String({ maxLength: 320 })),
});

export interface PageRouteOptions extends PageContext {
  readonly guards: Guards;
  readonly cookie: SessionCookie;
  readonly forms: PageForms;
}

/** The name of the OpenID Provider client a return path to `/authorize` belongs to. */
async function clientOfReturnPath(
  returnTo: string | undefined,
  basePath: string,
  clientName: PageContext['clientName'],
): Promise<string | undefined> {
  if (returnTo === undefined || clientName === undefined) return undefined;
  const url = new URL(returnTo, 'http://gatehouse.invalid');
  const clientId = url.searchParams.get('client_id');
  if (url.pathname !== `${basePath}/authorize` || clientId === null) return undefined;
  return clientName(clientId);
}

export const pageRoutes: FastifyPluginAsyncTypebox<PageRouteOptions> = async (app, options) => {
  const { sessions, accounts, emailFlows, externalSignIn, guards, cookie, forms, settings, basePath } =
    options;
  const hide = { hide: true };
  const mfaPages = options.factors && { factors: options.factors, settings, basePath };

  app.get(
    STYLESHEET_PATH,
    { schema: { ...hide, querystring: Type.Object({ v: Type.Optional(Type.String({ maxLength: 64 })) }) } },
    async (request, reply) =>
      reply
        .header('content-type', 'text/css; charset=utf-8')
        .header('x-content-type-options', 'nosniff')
        // The page links it with its content hash, so that URL can be cached for good.
        .header(
          'cache-control',
          request.query.v === STYLESHEET_VERSION
            ? 'public, max-age=31536000, immutable'
            : 'public, max-age=300',
        )
        .send(STYLESHEET),
  );

  app.get('/login', { schema: { ...hide, querystring: PageQuery } }, async (request, reply) => {
    const returnTo = safeReturnPath(request.query.return_to);
    const notice = request.query.notice === undefined ? undefined : LOGIN_NOTICES[request.query.notice];
    const passkey = options.factors ? passkeySignIn(basePath, returnTo) : undefined;
    const continueTo = await clientOfReturnPath(returnTo, basePath, options.clientName);
    const loginHint = request.query.login_hint;
    return sendPasskeyPage(
      reply,
      200,
      renderLoginPage(settings, { returnTo, notice, passkey, continueTo, loginHint }),
    );
  });

  app.get('/register', { schema: { ...hide, querystring: PageQuery } }, async (request, reply) => {
    const returnTo = safeReturnPath(request.query.return_to);
    return sendPage(reply, settings.registrationOpen ? 200 : 403, renderRegisterPage(settings, { returnTo }));
  });

  app.get(
    '/account',
    { onRequest: guards.optionalUser, schema: { ...hide, querystring: PageQuery } },
    async (request, reply) => {
      const principal = request.principal;
      if (principal === null || principal.csrfToken === undefined) {
        return reply
          .code(303)
          .header('location', `${basePath}/login?return_to=${encodeURIComponent(`${basePath}/account`)}`)
          .send();
      }
      const list = await sessions.listSessions(principal.user.id, principal.sessionId);
      const hasPassword = (await accounts.findUser(principal.user.id))?.passwordHash != null;
      const notice = request.query.notice === undefined ? undefined : ACCOUNT_NOTICES[request.query.notice];
      const factorParts = await accountFactorParts(mfaPages, principal.user.id, principal.csrfToken);
      return sendPasskeyPage(
        reply,
        200,
        renderAccountPage(
          settings,
          {
            user: principal.user,
            hasPassword,
            sessions: list,
            csrfToken: principal.csrfToken,
            needsReauth: options.needsReauth(principal.authTimeMs),
            identities: await externalSignIn.listIdentities(principal.user.id),
            ...factorParts.view,
            apps: await options.listApps?.(principal.user.id),
          },
          { notice, twoFactor: factorParts.twoFactor },
        ),
      );
    },
  );

  app.post(
    '/account/sessions/:id/revoke',
    {
      onRequest: guards.requireUser,
      config: { gatehouse: { htmlForm: forms.account } },
      schema: { ...hide, params: Type.Object({ id: Type.String({ maxLength: 64 }) }) },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await sessions.revokeSession(principal.user.id, request.params.id, requestContext(request));
      return reply.code(303).header('location', `${basePath}/account?notice=session-revoked`).send();
    },
  );

  app.post(
    '/account/identities/:id/unlink',
    {
      onRequest: guards.requireScopes('profile:write'),
      config: { gatehouse: { htmlForm: forms.account } },
      schema: { ...hide, params: Type.Object({ id: Type.String({ maxLength: 64 }) }) },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await externalSignIn.unlink(principal.user.id, request.params.id, requestContext(request));
      return reply.code(303).header('location', `${basePath}/account?notice=identity-unlinked`).send();
    },
  );

  app.post(
    '/account/logout-everywhere',
    { onRequest: guards.requireUser, config: { gatehouse: { htmlForm: forms.account } }, schema: hide },
    async (request, reply) => {
      const principal = principalOf(request);
      await sessions.revokeAllSessions(principal.user.id, requestContext(request));
      clearSessionCookie(reply, cookie);
      return reply.code(303).header('location', `${basePath}/login?notice=signed-out-everywhere`).send();
    },
  );

  app.post(
    '/account/email',
    {
      config: { gatehouse: { rateLimit: 'mail', htmlForm: forms.emailChange } },
      onRequest: [guards.requireScopes('profile:write'), guards.requireStepUp()],
      schema: {
        ...hide,
        body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 254 }) }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await emailFlows.requestEmailChange(principal.user.id, request.body.email, requestContext(request));
      return reply.code(303).header('location', `${basePath}/account?notice=email-change-sent`).send();
    },
  );

  if (mfaPages !== undefined) {
    await app.register(enrollmentPageRoutes, {
      ...mfaPages,
      sessions,
      cookie,
      form: enrollmentForm(mfaPages),
    });
    await app.register(factorPageRoutes, { ...mfaPages, accounts, guards, forms });
  }
  await app.register(linkRoutes, { emailFlows, cookie, forms, settings, basePath, mfaPages });
};
