/** The pages an emailed link opens, and the request forms that send those links. */
import type { ResetLinkInfo } from '../../auth/email-flows.ts';
import { errorSummary, type FormFailure, field, hidden, NO_FAILURE, notice } from './forms.ts';
import { html, layout, type SafeHtml } from './layout.ts';
import type { PageSettings } from './login-page.ts';

/** A link's token, as the page got it; checked (not spent) with `peekToken` before a form is shown. */
export interface LinkState {
  readonly token: string;
  readonly usable: boolean;
}

function expired(settings: PageSettings, title: string, next: SafeHtml): string {
  return layout(
    { appName: settings.appName, title },
    html`<p class="notice notice-warn" role="status">This link has expired or was already used.</p>
${next}`,
  );
}

export function renderForgotPasswordPage(
  settings: PageSettings,
  options: { failure?: FormFailure; sent?: boolean } = {},
): string {
  const failure = options.failure ?? NO_FAILURE;
  const labels = { email: 'Email address' };
  return layout(
    { appName: settings.appName, title: 'Reset your password' },
    html`${errorSummary(failure, labels)}${notice(options.sent ? 'If an account has this address, a link to reset its password is on its way. Check your email.' : undefined)}
<p>Enter the email address of your account and we will send you a link to choose a new password.</p>
<form method="post" action="/forgot-password" novalidate>
${field({ name: 'email', label: labels.email, type: 'email', autocomplete: 'email', maxLength: 254 }, failure)}
<button type="submit">Send reset link</button>
</form>
<p class="links"><a href="/login">Back to sign in</a></p>`,
  );
}

/** The reset page's checkbox: unchecked, so a reset ends API keys an intruder may have made. */
function keepApiKeysField(info: ResetLinkInfo | undefined): SafeHtml {
  if (info === undefined || info.apiKeys === 0) return html``;
  const count = `${info.apiKeys} API key${info.apiKeys === 1 ? '' : 's'}`;
  if (info.claimsAccount) {
    return html`<p class="hint">This account's address was never verified: its ${count} will be revoked.</p>`;
  }
  return html`<div class="field field-checkbox">
<input id="keep-api-keys" name="keep_api_keys" type="checkbox" value="true" aria-describedby="keep-api-keys-hint">
<label for="keep-api-keys">Keep my ${count} working</label>
<p class="hint" id="keep-api-keys-hint">Leave unchecked if someone else may have used your account: they could have created a key.</p>
</div>`;
}

export function renderResetPasswordPage(
  settings: PageSettings,
  link: LinkState & { readonly reset?: ResetLinkInfo | undefined },
  options: { failure?: FormFailure } = {},
): string {
  if (!link.usable) {
    return expired(
      settings,
      'Choose a new password',
      html`<p><a href="/forgot-password">Ask for a new reset link</a></p>`,
    );
  }
  const failure = options.failure ?? NO_FAILURE;
  const labels = { new_password: 'New password' };
  return layout(
    { appName: settings.appName, title: 'Choose a new password' },
    html`${errorSummary(failure, labels)}
<form method="post" action="/reset-password" novalidate>
${hidden('token', link.token)}
${field({ name: 'new_password', label: labels.new_password, type: 'password', autocomplete: 'new-password', hint: `At least ${settings.passwordMinLength} characters. You will be signed out everywhere.`, maxLength: 1024 }, failure)}
${keepApiKeysField(link.reset)}
<button type="submit">Set new password</button>
</form>`,
  );
}

/** A page with one button that spends the link's token by POST (a GET never spends a token). */
export function renderConfirmLinkPage(
  settings: PageSettings,
  link: LinkState,
  options: {
    title: string;
    text: string;
    action: string;
    button: string;
    whenExpired: SafeHtml;
    failure?: FormFailure;
    returnTo?: string | undefined;
  },
): string {
  if (!link.usable) return expired(settings, options.title, options.whenExpired);
  const failure = options.failure ?? NO_FAILURE;
  return layout(
    { appName: settings.appName, title: options.title },
    html`${errorSummary(failure, {})}
<p>${options.text}</p>
<form method="post" action="${options.action}">
${hidden('token', link.token)}
${hidden('return_to', options.returnTo)}
<button type="submit">${options.button}</button>
</form>`,
  );
}

/** After a link did its work. */
export function renderDonePage(settings: PageSettings, title: string, text: string, next: SafeHtml): string {
  return layout({ appName: settings.appName, title }, html`${notice(text)}${next}`);
}
