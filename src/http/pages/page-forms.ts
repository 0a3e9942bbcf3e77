/**
 * The `htmlForm` config of each API route a page posts to: which page a failure shows again and
 * where success sends the browser. `undefined` for every route when GATEHOUSE_PAGES is off.
 */
import type { FastifyRequest } from 'fastify';
import type { AccountService } from '../../auth/accounts.ts';
import type { EmailFlowService, EmailTokenPurpose } from '../../auth/email-flows.ts';
import { ReauthRequiredError } from '../../auth/errors.ts';
import type { ExternalSignInService } from '../../auth/external/sign-in.ts';
import type { FactorService } from '../../auth/factors/factors.ts';
import type { AppWithAccess } from '../../auth/oidc/provider.ts';
import { assertRecentAuth } from '../../auth/recent-auth.ts';
import type { SessionService } from '../../auth/sessions.ts';
import { type AccountForm, renderAccountPage } from './account-page.ts';
import {
  type LinkState,
  renderConfirmLinkPage,
  renderForgotPasswordPage,
  renderResetPasswordPage,
} from './email-pages.ts';
import { accountFactorParts } from './factor-pages.ts';
import type { FormFailure } from './forms.ts';
import type { HtmlForm } from './html-form.ts';
import { html } from './layout.ts';
import { type PageSettings, renderLoginPage } from './login-page.ts';
import { renderRegisterPage } from './register-page.ts';

export interface PageForms {
  readonly login: HtmlForm;
  readonly register: HtmlForm;
  readonly logout: HtmlForm;
  readonly changePassword: HtmlForm;
  /** The account page's "confirm it's you" form, shown when a change needs a recent sign-in. */
  readonly reauthenticate: HtmlForm;
  /** The account page's other posts: revoke a session, sign out everywhere, resend verification. */
  readonly account: HtmlForm;
  readonly verificationRequest: HtmlForm;
  readonly emailChange: HtmlForm;
  readonly forgotPassword: HtmlForm;
  readonly resetPassword: HtmlForm;
  readonly verifyEmail: HtmlForm;
  readonly magicLinkRequest: HtmlForm;
  readonly magicLinkSignIn: HtmlForm;
  readonly confirmEmail: HtmlForm;
}

export const DEFAULT_RETURN_PATH = '/account';

/** What the hosted pages read: the services they call and a few settings. */
export interface PageContext {
  readonly sessions: SessionService;
  readonly accounts: AccountService;
  readonly emailFlows: EmailFlowService;
  readonly externalSignIn: ExternalSignInService;
  readonly settings: PageSettings;
  /** Where the routes are mounted (`''` or the plugin's prefix). */
  readonly basePath: string;
  /** Whether the account page must ask for the password again (GATEHOUSE_REAUTH_MAX_AGE). */
  needsReauth(authTimeMs: number | undefined): boolean;
  /** Second factors: the account page's section, the passkey sign-in (pages/factor-pages.ts). */
  readonly factors?: FactorService | undefined;
  /** An OpenID Provider client's name, for "Sign in to continue to …" on the login page. */
  readonly clientName?: ((clientId: string) => Promise<string | undefined>) | undefined;
  /** The OpenID Provider clients the user has consented to ("Apps with access"). */
  readonly listApps?: ((userId: string) => Promise<AppWithAccess[]>) | undefined;
}

/** Whether the account page must ask for the password before its changes go through. */
export function needsReauth(authTimeMs: number | undefined, maxAgeSeconds: number, nowMs: number): boolean {
  try {
    assertRecentAuth(authTimeMs, maxAgeSeconds, nowMs);
    return false;
  } catch (error) {
    if (error instanceof ReauthRequiredError) return true;
    throw error;
  }
}

export function withReturnTo(
  path: string,
  returnTo: string | undefined,
  home: string = DEFAULT_RETURN_PATH,
): string {
  if (returnTo === undefined || returnTo === home) return path;
  const separator = path.includes('?') ? '&' : '?';
  return `${path}${separator}return_to=${encodeURIComponent(returnTo)}`;
}

/** Page texts of the links that are spent by one button. */
export const LINK_PAGES = {
  verify: {
    title: 'Verify your email address',
    text: 'Confirm that this address is yours.',
    action: '/verify',
    button: 'Verify my email address',
    whenExpired: html`<p>Sign in and ask for a new link from your account page.</p>
<p><a href="/account">Go to your account</a></p>`,
  },
  magic: {
    title: 'Sign in',
    text: 'Continue to sign in with this link. It works once.',
    action: '/magic-link/sign-in',
    button: 'Sign in',
    whenExpired: html`<p><a href="/login">Ask for a new sign-in link</a></p>`,
  },
  email_change: {
    title: 'Confirm your new email address',
    text: 'Confirm that this address is yours; your account will use it from now on.',
    action: '/users/me/email/confirm',
    button: 'Confirm new address',
    whenExpired: html`<p>Ask for the change again from your account page.</p>
<p><a href="/account">Go to your account</a></p>`,
  },
} as const;

export function createPageForms(pages: PageContext): PageForms {
  const { settings, emailFlows, basePath } = pages;
  const mfaPages = pages.factors && { factors: pages.factors, settings, basePath };
  // The account page runs the passkey script once second factors are on.
  const scripted = mfaPages !== undefined;
  // Gatehouse's own pages, under the plugin's prefix; `return_to` is a path of the whole site.
  const at = (path: string) => `${basePath}${path}`;
  const home = at(DEFAULT_RETURN_PATH);
  const returnToOf = (request: FastifyRequest) => request.formPost?.returnTo;
  const tokenOf = (request: FastifyRequest) => {
    const token = (request.body as { token?: unknown } | undefined)?.token;
    return typeof token === 'string' ? token : '';
  };
  // After a failed post the link is looked at again: a spent or expired one says so.
  const linkOf = async (request: FastifyRequest, purpose: EmailTokenPurpose): Promise<LinkState> => {
    const token = tokenOf(request);
    return { token, usable: token !== '' && (await emailFlows.peekToken(token, purpose)) };
  };

  // The account page after a failed post; the sign-in page when the guard refused the session.
  const accountAfterFailure =
    (failedForm: AccountForm) => async (request: FastifyRequest, failure: FormFailure) => {
      const principal = request.principal;
      if (principal === null || principal.csrfToken === undefined) {
        return renderLoginPage(settings, {
          failure: { ...failure, fields: {} },
          returnTo: home,
        });
      }
      const sessions = await pages.sessions.listSessions(principal.user.id, principal.sessionId);
      const hasPassword = (await pages.accounts.findUser(principal.user.id))?.passwordHash != null;
      const factorParts = await accountFactorParts(mfaPages, principal.user.id, principal.csrfToken);
      return renderAccountPage(
        settings,
        {
          user: principal.user,
          hasPassword,
          sessions,
          csrfToken: principal.csrfToken,
          needsReauth: pages.needsReauth(principal.authTimeMs),
          identities: await pages.externalSignIn.listIdentities(principal.user.id),
          ...factorParts.view,
          apps: await pages.listApps?.(principal.user.id),
        },
        { failure, failedForm, twoFactor: factorParts.twoFactor },
      );
    };
  const linkPage =
    (purpose: keyof typeof LINK_PAGES) => async (request: FastifyRequest, failure: FormFailure) =>
      renderConfirmLinkPage(settings, await linkOf(request, purpose), {
        ...LINK_PAGES[purpose],
        failure,
        returnTo: returnToOf(request),
      });

  return {
    login: {
      render: (request, failure) => renderLoginPage(settings, { failure, returnTo: returnToOf(request) }),
      successLocation: (request) => returnToOf(request) ?? home,
    },
    register: {
      render: (request, failure) => renderRegisterPage(settings, { failure, returnTo: returnToOf(request) }),
      successLocation: (request) => withReturnTo(at('/login?notice=registered'), returnToOf(request), home),
    },
    logout: {
      render: accountAfterFailure('other'),
      successLocation: () => at('/login?notice=signed-out'),
      scripted,
    },
    changePassword: {
      render: accountAfterFailure('password'),
      successLocation: () => at('/account?notice=password-changed'),
      scripted,
    },
    reauthenticate: {
      fieldNames: { current_password: 'password' },
      render: accountAfterFailure('reauth'),
      successLocation: () => at('/account?notice=reauthenticated'),
      scripted,
    },
    account: { render: accountAfterFailure('other'), successLocation: () => home, scripted },
    verificationRequest: {
      render: accountAfterFailure('other'),
      successLocation: () => at('/account?notice=verification-sent'),
      scripted,
    },
    emailChange: {
      render: accountAfterFailure('email'),
      successLocation: () => at('/account?notice=email-change-sent'),
      scripted,
    },
    forgotPassword: {
      render: (_request, failure) => renderForgotPasswordPage(settings, { failure }),
      successLocation: () => at('/forgot-password?notice=sent'),
    },
    resetPassword: {
      checkboxes: ['keep_api_keys'],
      render: async (request, failure) => {
        const token = tokenOf(request);
        const reset = token === '' ? undefined : await emailFlows.describeResetLink(token);
        return renderResetPasswordPage(settings, { token, usable: reset !== undefined, reset }, { failure });
      },
      successLocation: () => at('/login?notice=password-reset'),
    },
    verifyEmail: { render: linkPage('verify'), successLocation: () => at('/verify-email?status=verified') },
    magicLinkRequest: {
      render: (_request, failure) => renderLoginPage(settings, { magicFailure: failure }),
      successLocation: () => at('/login?notice=magic-link-sent'),
    },
    magicLinkSignIn: {
      render: linkPage('magic'),
      successLocation: (request) => returnToOf(request) ?? home,
    },
    confirmEmail: {
      render: linkPage('email_change'),
      successLocation: () => at('/confirm-email?status=confirmed'),
    },
  };
}
