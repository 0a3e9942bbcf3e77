/**
 * Enrolment by policy on the hosted pages (GATEHOUSE_MFA=required or required_for_admins): a sign-in
 * of an account without a factor goes on to "Set up a second factor" instead of stopping at
 * `mfa_enrollment_required`. The enrollment token rides in a hidden field (as the second step's
 * `mfa_token` does; form posts before a session are held to this origin by the form hooks). An
 * authenticator app (QR code and key, then a code) works without JavaScript; a passkey uses the
 * script. The recovery codes are shown once, and the sign-in then goes on to `return_to`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type GatehouseError, MfaEnrollmentRequiredError, MfaRequiredError } from '../../auth/errors.ts';
import type { EnrolledSignIn } from '../../auth/factors/policy-enrollment.ts';
import type { RequestContext } from '../../auth/request-context.ts';
import type { SessionService } from '../../auth/sessions.ts';
import type { SessionCookie } from '../cookies.ts';
import { requestContext } from '../request-context.ts';
import { externalOf } from '../routes/mfa.ts';
import { type MfaPageContext, secondStepPage, sendPasskeyPage, stringField } from './factor-pages.ts';
import { errorSummary, type FormFailure, hidden, NO_FAILURE } from './forms.ts';
import { formFailureOf, type HtmlForm } from './html-form.ts';
import { html, layout } from './layout.ts';
import { renderLoginPage } from './login-page.ts';
import { continueLink, passkeyButton, renderRecoveryCodesPage, renderTotpSetupPage } from './mfa-pages.ts';
import { passkeyScriptTag } from './passkey-script.ts';

export function renderEnrollmentPage(
  context: MfaPageContext,
  view: { enrollmentToken: string; returnTo: string | undefined },
  failure: FormFailure = NO_FAILURE,
): string {
  const { basePath, settings } = context;
  const next = view.returnTo ?? `${basePath}/account`;
  return layout(
    { appName: settings.appName, title: 'Set up a second factor' },
    html`${errorSummary(failure, {})}
<p>One more step: this account must use a second factor. Set one up now to finish signing in.</p>
<form method="post" action="/login/enrollment/totp" novalidate>
${hidden('enrollment_token', view.enrollmentToken)}${hidden('return_to', view.returnTo)}
<button type="submit">Set up an authenticator app</button>
</form>
<section class="alternative" hidden data-passkey-section>
${passkeyButton('enrol', 'Add a passkey', { base: basePath, next, enrollmentToken: view.enrollmentToken })}
</section>
<section id="passkey-recovery-codes" hidden><h2>Your recovery codes</h2><p>Each signs you in once if you lose your passkey. They are shown only now.</p><ol class="recovery-codes"></ol>${continueLink(next)}</section>
${passkeyScriptTag(basePath)}`,
  );
}

/** The page a browser's first step goes on to: the second step, or enrolment by policy. */
export function challengePage(
  context: MfaPageContext,
  error: unknown,
  returnTo: string | undefined,
): string | undefined {
  if (error instanceof MfaRequiredError) return secondStepPage(context, error, returnTo);
  if (error instanceof MfaEnrollmentRequiredError)
    return renderEnrollmentPage(context, { enrollmentToken: error.enrollmentToken, returnTo });
  return undefined;
}

/** The enrolment posts as forms: a failure shows the enrolment again while its token lives. */
export function enrollmentForm(context: MfaPageContext): HtmlForm {
  return {
    async render(request: FastifyRequest, failure: FormFailure) {
      const token = stringField(request.body, 'enrollment_token');
      const returnTo = request.formPost?.returnTo;
      const live =
        token !== undefined &&
        (await context.factors.enrollingUser(token).then(
          () => true,
          () => false,
        ));
      return live
        ? renderEnrollmentPage(context, { enrollmentToken: token, returnTo }, failure)
        : renderLoginPage(context.settings, { failure: { ...failure, fields: {} }, returnTo });
    },
    successLocation: (request) => request.formPost?.returnTo ?? `${context.basePath}/account`,
    scripted: true,
  };
}

export interface EnrollmentPageRouteOptions extends MfaPageContext {
  readonly sessions: SessionService;
  readonly cookie: SessionCookie;
  readonly form: HtmlForm;
}

export const enrollmentPageRoutes: FastifyPluginAsyncTypebox<EnrollmentPageRouteOptions> = async (
  app,
  options,
) => {
  const { factors, sessions, cookie, settings, basePath, form } = options;
  const config = { gatehouse: { noStore: true, rateLimit: 'login' as const, htmlForm: form } };
  const token = Type.String({ maxLength: 200 });

  /** The enrolment finished the sign-in: its cookie session, with the first step's provider. */
  async function signIn(reply: FastifyReply, done: EnrolledSignIn, ctx: RequestContext): Promise<void> {
    const method = `${done.step.method}+mfa`;
    const login = await sessions.startCookieSession(done.user, ctx, method, done.amr, externalOf(done.step));
    reply.setCookie(cookie.name, login.cookieValue, cookie.options);
  }

  app.post(
    '/login/enrollment/totp',
    { config, schema: { hide: true, body: Type.Object({ enrollment_token: token }) } },
    async (request, reply) => {
      const enrollmentToken = request.body.enrollment_token;
      const user = await factors.enrollingUser(enrollmentToken);
      const enrolment = await factors.enrollTotp(user, undefined, requestContext(request));
      const target = { enrollmentToken, returnTo: request.formPost?.returnTo };
      return sendPasskeyPage(reply, 200, renderTotpSetupPage(settings, { ...enrolment, target }));
    },
  );

  app.post(
    '/login/enrollment/factors/totp/:id/confirm',
    {
      config,
      schema: {
        hide: true,
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        body: Type.Object({ enrollment_token: token, code: Type.Optional(Type.String({ maxLength: 20 })) }),
      },
    },
    async (request, reply) => {
      const ctx = requestContext(request);
      const { enrollment_token: enrollmentToken, code } = request.body;
      const returnTo = request.formPost?.returnTo;
      let done: EnrolledSignIn;
      try {
        done = await factors.confirmTotpToSignIn(enrollmentToken, request.params.id, code ?? '', ctx);
      } catch (error) {
        if ((error as GatehouseError).code !== 'INVALID_FACTOR_CODE') throw error;
        // As on the account page: the key is not shown again, only the code was wrong.
        const failure = formFailureOf(form, request, 400, {
          detail: [{ loc: ['body', 'code'], msg: (error as Error).message }],
        });
        const view = { id: request.params.id, secret: '', qrSvg: '', target: { enrollmentToken, returnTo } };
        return sendPasskeyPage(reply, 400, renderTotpSetupPage(settings, view, failure));
      }
      await signIn(reply, done, ctx);
      const next = returnTo ?? `${basePath}/account`;
      return sendPasskeyPage(
        reply,
        200,
        renderRecoveryCodesPage(settings, done.user.username, done.recoveryCodes ?? [], next),
      );
    },
  );

  app.post(
    '/login/enrollment/passkey',
    {
      config,
      schema: {
        hide: true,
        body: Type.Object({
          enrollment_token: token,
          response: Type.Object({}, { additionalProperties: true }),
        }),
      },
    },
    async (request, reply) => {
      const ctx = requestContext(request);
      const { enrollment_token: enrollmentToken, response } = request.body;
      const done = await factors.registerPasskeyToSignIn(
        enrollmentToken,
        response as Record<string, unknown>,
        ctx,
      );
      await signIn(reply, done, ctx);
      return { recovery_codes: done.recoveryCodes ?? [] };
    },
  );
};
