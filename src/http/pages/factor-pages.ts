/**
 * The hosted pages' routes of second factors: the passkey script, setting up an authenticator
 * app, removing a factor and new recovery codes from the account page (form posts, so POST where
 * the API uses DELETE), and the second sign-in step after `/login`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AccountService } from '../../auth/accounts.ts';
import type { MfaRequiredError } from '../../auth/errors.ts';
import type { FactorService } from '../../auth/factors/factors.ts';
import { type Guards, principalOf } from '../guards.ts';
import { requestContext } from '../request-context.ts';
import type { AccountView } from './account-page.ts';
import type { FormFailure } from './forms.ts';
import { formFailureOf, type HtmlForm, setPageHeaders } from './html-form.ts';
import { html, type SafeHtml } from './layout.ts';
import type { PageSettings } from './login-page.ts';
import { renderLoginPage } from './login-page.ts';
import {
  passkeyButton,
  renderRecoveryCodesPage,
  renderSecondStepPage,
  renderTotpSetupPage,
  twoFactorSection,
} from './mfa-pages.ts';
import type { PageForms } from './page-forms.ts';
import {
  PASSKEY_PAGE_CSP,
  PASSKEY_SCRIPT,
  PASSKEY_SCRIPT_PATH,
  PASSKEY_SCRIPT_VERSION,
  passkeyScriptTag,
} from './passkey-script.ts';

/** A page that may run the passkey script. */
export async function sendPasskeyPage(
  reply: FastifyReply,
  status: number,
  body: string,
): Promise<FastifyReply> {
  // A page that is itself the answer to a form post: not the `303 See Other` of a form's success.
  if (reply.request.formPost !== null) reply.request.formPost = null;
  return setPageHeaders(reply).header('content-security-policy', PASSKEY_PAGE_CSP).code(status).send(body);
}

/** What the pages of second factors read: the factor service and the pages' settings. */
export interface MfaPageContext {
  readonly factors: FactorService;
  readonly settings: PageSettings;
  /** Where the routes are mounted (`''` or the plugin's prefix). */
  readonly basePath: string;
}

/**
 * The account page's parts of second factors for the signed-in user: the "Two-factor
 * authentication" section, and what "Confirm it is you" offers (the app's code, a passkey).
 */
export async function accountFactorParts(
  context: MfaPageContext | undefined,
  userId: string,
  csrfToken: string,
): Promise<{ view: Pick<AccountView, 'reauthWithCode' | 'reauthPasskey'>; twoFactor?: SafeHtml }> {
  if (context === undefined) return { view: {} };
  const { factors, basePath } = context;
  const list = await factors.listFactors(userId);
  const has = (type: string) => list.some((f) => f.type === type && f.confirmed);
  return {
    view: {
      reauthWithCode: has('totp'),
      reauthPasskey: has('webauthn')
        ? passkeyButton('reauth', 'Use a passkey', { base: basePath, csrf: csrfToken })
        : undefined,
    },
    twoFactor: twoFactorSection({
      factors: list,
      recoveryCodesLeft: await factors.recoveryCodesLeft(userId),
      csrfToken,
      basePath,
      script: passkeyScriptTag(basePath),
    }),
  };
}

/**
 * The login page's "Sign in with a passkey": hidden until the script finds the browser can (no
 * dead control without JavaScript); the username field's autofill offers passkeys too.
 */
export function passkeySignIn(basePath: string, returnTo: string | undefined): SafeHtml {
  return html`<section aria-labelledby="passkey-title" class="alternative" hidden data-passkey-section>
<h2 id="passkey-title">Sign in with a passkey</h2>
${passkeyButton('signin', 'Use a passkey', { base: basePath, next: returnTo ?? `${basePath}/account` })}
</section>
${passkeyScriptTag(basePath)}`;
}

/** The second step's page for a first step that answered `mfa_required`. */
export function secondStepPage(
  context: MfaPageContext,
  error: MfaRequiredError,
  returnTo: string | undefined,
  failure?: FormFailure,
): string {
  const { basePath } = context;
  return renderSecondStepPage(
    context.settings,
    {
      mfaToken: error.mfaToken,
      factors: error.factors,
      returnTo,
      basePath,
      script: passkeyScriptTag(basePath),
    },
    failure,
  );
}

/** A string field of a body that may have failed validation. */
export function stringField(body: unknown, name: string): string | undefined {
  const value =
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** `POST /login/mfa` as a form: a failure shows the second step again while its token lives. */
export function secondStepForm(context: MfaPageContext): HtmlForm {
  const { settings, basePath } = context;
  const home = `${basePath}/account`;
  return {
    async render(request: FastifyRequest, failure: FormFailure) {
      const token = stringField(request.body, 'mfa_token');
      const returnTo = request.formPost?.returnTo;
      const factors = token === undefined ? [] : await context.factors.factorsFor(token);
      if (token === undefined || factors.length === 0) {
        return renderLoginPage(settings, { failure: { ...failure, fields: {} }, returnTo });
      }
      return renderSecondStepPage(
        settings,
        { mfaToken: token, factors, returnTo, basePath, script: passkeyScriptTag(basePath) },
        failure,
      );
    },
    successLocation: (request) => request.formPost?.returnTo ?? home,
    scripted: true,
  };
}

export interface FactorPageRouteOptions extends MfaPageContext {
  readonly accounts: AccountService;
  readonly guards: Guards;
  readonly forms: PageForms;
}

export const factorPageRoutes: FastifyPluginAsyncTypebox<FactorPageRouteOptions> = async (app, options) => {
  const { guards, forms, factors, accounts, basePath, settings } = options;
  const hide = { hide: true };
  const stepUp = [guards.requireScopes('profile:write'), guards.requireStepUp()];
  const me = async (request: FastifyRequest) => accounts.getUserOrThrow(principalOf(request).user.id);

  app.get(
    PASSKEY_SCRIPT_PATH,
    { schema: { ...hide, querystring: Type.Object({ v: Type.Optional(Type.String({ maxLength: 64 })) }) } },
    async (request, reply) =>
      reply
        .header('content-type', 'text/javascript; charset=utf-8')
        .header('x-content-type-options', 'nosniff')
        .header(
          'cache-control',
          request.query.v === PASSKEY_SCRIPT_VERSION
            ? 'public, max-age=31536000, immutable'
            : 'public, max-age=300',
        )
        .send(PASSKEY_SCRIPT),
  );

  app.post(
    '/account/factors/totp',
    { onRequest: stepUp, config: { gatehouse: { noStore: true, htmlForm: forms.account } }, schema: hide },
    async (request, reply) => {
      const user = await me(request);
      const enrolment = await factors.enrollTotp(user, undefined, requestContext(request));
      return sendPasskeyPage(
        reply,
        200,
        renderTotpSetupPage(settings, {
          id: enrolment.id,
          secret: enrolment.secret,
          qrSvg: enrolment.qrSvg,
          target: { csrfToken: principalOf(request).csrfToken ?? '', username: user.username },
        }),
      );
    },
  );

  app.post(
    '/account/factors/totp/:id/confirm',
    {
      onRequest: guards.requireScopes('profile:write'),
      config: { gatehouse: { noStore: true, htmlForm: forms.account } },
      schema: {
        ...hide,
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        body: Type.Object({ code: Type.Optional(Type.String({ maxLength: 20 })) }),
      },
    },
    async (request, reply) => {
      const user = await me(request);
      try {
        const result = await factors.confirmTotp(
          user,
          request.params.id,
          request.body?.code ?? '',
          requestContext(request),
        );
        if (result.recoveryCodes === undefined) {
          return reply.code(303).header('location', `${basePath}/account?notice=factor-added`).send();
        }
        return sendPasskeyPage(
          reply,
          200,
          renderRecoveryCodesPage(settings, user.username, result.recoveryCodes),
        );
      } catch (error) {
        if (!(error instanceof Error) || (error as { code?: string }).code !== 'INVALID_FACTOR_CODE')
          throw error;
        // The secret is not shown again: the app already has it, only the code was wrong.
        const failure = formFailureOf(forms.account, request, 400, {
          detail: [{ loc: ['body', 'code'], msg: error.message }],
        });
        return sendPasskeyPage(
          reply,
          400,
          renderTotpSetupPage(
            settings,
            {
              id: request.params.id,
              secret: '',
              qrSvg: '',
              target: { csrfToken: principalOf(request).csrfToken ?? '', username: user.username },
            },
            failure,
          ),
        );
      }
    },
  );

  app.post(
    '/account/factors/:id/remove',
    {
      onRequest: stepUp,
      config: { gatehouse: { htmlForm: forms.account } },
      schema: { ...hide, params: Type.Object({ id: Type.String({ maxLength: 100 }) }) },
    },
    async (request, reply) => {
      await factors.removeFactor(await me(request), request.params.id, requestContext(request));
      return reply.code(303).header('location', `${basePath}/account?notice=factor-removed`).send();
    },
  );

  app.post(
    '/account/recovery-codes',
    { onRequest: stepUp, config: { gatehouse: { noStore: true, htmlForm: forms.account } }, schema: hide },
    async (request, reply) => {
      const user = await me(request);
      const codes = await factors.regenerateRecoveryCodes(user, requestContext(request));
      return sendPasskeyPage(reply, 200, renderRecoveryCodesPage(settings, user.username, codes));
    },
  );
};
