import type { PublicUser } from '../../auth/accounts.ts';
import type { IdentityView } from '../../auth/external/sign-in.ts';
import type { AppWithAccess } from '../../auth/oidc/provider.ts';
import type { SessionView } from '../../auth/sessions.ts';
import { scopeInWords } from './consent-page.ts';
import { EXTERNAL_ACCOUNT_NOTICES } from './external-notices.ts';
import { connectedAccountsSection, signInAgainSection } from './external-pages.ts';
import { errorSummary, type FormFailure, field, hidden, NO_FAILURE, notice } from './forms.ts';
import { html, layout, type SafeHtml } from './layout.ts';
import type { PageSettings } from './login-page.ts';

const PASSWORD_LABELS = { current_password: 'Current password', new_password: 'New password' };
const EMAIL_LABELS = { email: 'New email address' };
const REAUTH_LABELS = { password: 'Your password' };

/** Which of the account page's forms a failure belongs to. */
export type AccountForm = 'password' | 'email' | 'reauth' | 'other';

/** Notices a redirect to /account may ask for, by `?notice=`. */
export const ACCOUNT_NOTICES: Readonly<Record<string, string>> = {
  'password-changed': 'Your password has been changed. Your other sessions have been signed out.',
  'session-revoked': 'That session has been signed out.',
  'verification-sent': 'A new verification link is on its way. Check your email.',
  'email-change-sent': 'We sent a confirmation link to the new address. Your email changes when you open it.',
  reauthenticated: 'Thank you. You can now change your email address or password.',
  'factor-added': 'Your second factor is ready.',
  'factor-removed': 'That second factor has been removed.',
  'passkey-added': 'Your passkey is ready.',
  'app-removed': 'That app no longer has access to your account.',
  ...EXTERNAL_ACCOUNT_NOTICES,
};

export interface AccountView {
  readonly user: PublicUser;
  /** False for an account claimed by its mailbox's owner, who sets a password by reset. */
  readonly hasPassword: boolean;
  readonly sessions: readonly SessionView[];
  readonly csrfToken: string;
  /** The session's sign-in is too old for changes that need a recent one (RFC 9470 step-up). */
  readonly needsReauth: boolean;
  /** The user has an authenticator app: proving it again asks for its code too (MFA step-up). */
  readonly reauthWithCode?: boolean | undefined;
  /** The user has a passkey: its "Use a passkey" button proves it alone (pages/mfa-pages.ts). */
  readonly reauthPasskey?: SafeHtml | undefined;
  /** Accounts at external providers connected to this one. */
  readonly identities: readonly IdentityView[];
  /** OpenID Provider clients the user has consented to. */
  readonly apps?: readonly AppWithAccess[] | undefined;
}

const when = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

function describeAgent(userAgent: string | null): string {
  if (userAgent === null || userAgent === '') return 'Unknown device';
  return userAgent.length > 120 ? `${userAgent.slice(0, 117)}…` : userAgent;
}

/** Asks for the password inline when a change on this page needs a recent sign-in. */
function reauthSection(view: AccountView, failure: FormFailure): SafeHtml {
  const { user, csrfToken, reauthPasskey } = view;
  const withCode = view.reauthWithCode === true;
  return html`<section aria-labelledby="reauth-title">
<h2 id="reauth-title">Confirm it is you</h2>
<p>Changing your email address or password needs a recent sign-in. ${view.hasPassword ? 'Enter your password to continue.' : 'Use your passkey to continue.'}</p>
${view.hasPassword ? passwordReauthForm(user, csrfToken, failure, withCode) : ''}
${reauthPasskey ? html`<div class="actions">${reauthPasskey}</div>` : ''}
</section>`;
}

function passwordReauthForm(
  user: PublicUser,
  csrfToken: string,
  failure: FormFailure,
  withCode: boolean,
): SafeHtml {
  return html`<form method="post" action="/reauthenticate" novalidate>
${hidden('csrf_token', csrfToken)}
<input type="hidden" name="username" value="${user.username}" autocomplete="username">
${field({ form: 'reauth', name: 'password', label: REAUTH_LABELS.password, type: 'password', autocomplete: 'current-password', maxLength: 1024 }, failure)}
${withCode ? field({ form: 'reauth', name: 'otp', label: 'Code from your authenticator app', autocomplete: 'one-time-code', maxLength: 20 }, failure) : ''}
<button type="submit">Confirm</button>
</form>`;
}

/** The account page's section: each app the user allowed, what it may do, and a button to take it back. */
function appsSection(apps: readonly AppWithAccess[], csrfToken: string): SafeHtml {
  return html`<section aria-labelledby="apps-title">
<h2 id="apps-title">Apps with access</h2>
${
  apps.length === 0
    ? html`<p>No app has access to your account.</p>`
    : html`<ul class="apps">${apps.map(
        (app) => html`<li class="app">
<p class="app-name"><strong>${app.clientName}</strong></p>
<ul class="scopes">${app.scopes.map((scope) => html`<li>${scopeInWords(scope)}</li>`)}</ul>
<p class="app-meta">Allowed ${when(app.grantedAt)}</p>
<form method="post" action="/account/apps/${encodeURIComponent(app.clientId)}/remove">
${hidden('csrf_token', csrfToken)}
<button type="submit" class="secondary">Remove access<span class="visually-hidden"> of ${app.clientName}</span></button>
</form>
</li>`,
      )}</ul>`
}
</section>`;
}

function sessionItem(session: SessionView, csrfToken: string): SafeHtml {
  return html`<li class="session${session.current ? ' session-current' : ''}">
<p class="session-agent">${describeAgent(session.userAgent)}${session.current ? html` <strong class="badge">This device</strong>` : ''}</p>
<p class="session-meta">Signed in ${when(session.createdAt)} · last active ${when(session.lastUsedAt)}${session.ip ? html` · ${session.ip}` : ''}</p>
${
  session.current
    ? ''
    : html`<form method="post" action="/account/sessions/${encodeURIComponent(session.id)}/revoke">
${hidden('csrf_token', csrfToken)}
<button type="submit" class="secondary">Sign out this session<span class="visually-hidden"> (${describeAgent(session.userAgent)}, last active ${when(session.lastUsedAt)})</span></button>
</form>`
}
</li>`;
}

export function renderAccountPage(
  settings: PageSettings,
  view: AccountView,
  options: {
    failure?: FormFailure;
    failedForm?: AccountForm;
    notice?: string | undefined;
    /** The "Two-factor authentication" section (pages/mfa-pages.ts). */
    twoFactor?: SafeHtml | undefined;
  } = {},
): string {
  const failure = options.failure ?? NO_FAILURE;
  const passwordFailure = options.failedForm === 'password' ? failure : NO_FAILURE;
  const emailFailure = options.failedForm === 'email' ? failure : NO_FAILURE;
  const reauthFailure = options.failedForm === 'reauth' ? failure : NO_FAILURE;
  const { user, sessions, csrfToken } = view;
  const summary =
    options.failedForm === 'password'
      ? errorSummary(failure, PASSWORD_LABELS, 'password')
      : options.failedForm === 'email'
        ? errorSummary(failure, EMAIL_LABELS, 'email')
        : options.failedForm === 'reauth'
          ? errorSummary(failure, REAUTH_LABELS, 'reauth')
          : errorSummary(
              { ...failure, summary: [...failure.summary, ...Object.values(failure.fields)], fields: {} },
              {},
            );
  return layout(
    { appName: settings.appName, title: 'Your account', signedInAs: user.username },
    html`${summary}${notice(options.notice)}
<section aria-labelledby="profile-title">
<h2 id="profile-title">Profile</h2>
<dl class="profile">
<dt>Username</dt><dd>${user.username}</dd>
${user.full_name ? html`<dt>Name</dt><dd>${user.full_name}</dd>` : ''}
<dt>Email</dt><dd>${user.email} ${user.email_verified ? html`<span class="badge badge-ok">verified</span>` : html`<span class="badge badge-warn">not verified</span>`}</dd>
<dt>Roles</dt><dd>${user.roles.length > 0 ? user.roles.join(', ') : 'none'}</dd>
<dt>Member since</dt><dd>${when(Date.parse(user.created_at))}</dd>
</dl>
${
  user.email_verified
    ? ''
    : html`<form method="post" action="/verify/request" class="inline-form">
${hidden('csrf_token', csrfToken)}
<button type="submit" class="secondary">Send a new verification link</button>
</form>`
}
</section>
${
  view.needsReauth && !view.hasPassword && !view.reauthPasskey && view.identities.length > 0
    ? signInAgainSection(view.identities)
    : view.needsReauth || options.failedForm === 'reauth'
      ? reauthSection(view, reauthFailure)
      : ''
}
<section aria-labelledby="email-title">
<h2 id="email-title">Change email address</h2>
<form method="post" action="/account/email" novalidate>
${hidden('csrf_token', csrfToken)}
${field({ form: 'email', name: 'email', label: EMAIL_LABELS.email, type: 'email', autocomplete: 'email', maxLength: 254, hint: 'We send a link to the new address; the change happens when you open it.' }, emailFailure)}
<button type="submit">Change email</button>
</form>
</section>
<section aria-labelledby="password-title">
<h2 id="password-title">Change password</h2>
${!view.hasPassword ? html`<p class="notice" role="status">Your account has no password yet: <a href="/forgot-password">set one with a link mailed to you</a>.</p>` : ''}
<form method="post" action="/users/me/password" novalidate>
${hidden('csrf_token', csrfToken)}
<input type="hidden" name="username" value="${user.username}" autocomplete="username">
${field({ form: 'password', name: 'current_password', label: PASSWORD_LABELS.current_password, type: 'password', autocomplete: 'current-password', maxLength: 1024 }, passwordFailure)}
${field({ form: 'password', name: 'new_password', label: PASSWORD_LABELS.new_password, type: 'password', autocomplete: 'new-password', hint: `At least ${settings.passwordMinLength} characters. Your other sessions will be signed out.`, maxLength: 1024 }, passwordFailure)}
<button type="submit">Change password</button>
</form>
</section>
${options.twoFactor ?? ''}
${connectedAccountsSection(settings.providers, view.identities, csrfToken)}
${view.apps === undefined ? '' : appsSection(view.apps, csrfToken)}
<section aria-labelledby="sessions-title">
<h2 id="sessions-title">Where you are signed in</h2>
<ul class="sessions">${sessions.map((session) => sessionItem(session, csrfToken))}</ul>
<div class="actions">
<form method="post" action="/logout">
${hidden('csrf_token', csrfToken)}
<button type="submit" class="secondary">Sign out</button>
</form>
<form method="post" action="/account/logout-everywhere">
${hidden('csrf_token', csrfToken)}
<button type="submit" class="danger">Sign out everywhere</button>
</form>
</div>
</section>`,
  );
}
