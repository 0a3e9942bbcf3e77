/**
 * The pages of second factors: the second sign-in step (a code, a recovery code or a passkey),
 * setting up an authenticator app, recovery codes shown once, and the account page's
 * "Two-factor authentication" section. Codes and forms work without JavaScript; only passkeys
 * use the one first-party script.
 */

import type { FactorSummary } from '../../auth/errors.ts';
import type { FactorView } from '../../auth/factors/factor-service.ts';
import { errorSummary, type FormFailure, field, hidden, NO_FAILURE } from './forms.ts';
import { html, layout, SafeHtml } from './layout.ts';
import type { PageSettings } from './login-page.ts';

const CODE_LABELS = { otp: 'Code from your authenticator app', recovery_code: 'Recovery code' };
const when = (ms: number | null) => (ms === null ? 'never' : `${new Date(ms).toISOString().slice(0, 10)}`);

export function passkeyButton(
  kind: 'register' | 'signin' | 'mfa' | 'reauth' | 'enrol',
  label: string,
  data: { base: string; next?: string; csrf?: string; mfaToken?: string; enrollmentToken?: string },
): SafeHtml {
  return html`<button type="button" class="secondary" hidden data-passkey="${kind}" data-base="${data.base}" data-status="passkey-status-${kind}"${data.next ? html` data-next="${data.next}"` : ''}${data.csrf ? html` data-csrf="${data.csrf}"` : ''}${data.mfaToken ? html` data-mfa-token="${data.mfaToken}"` : ''}${data.enrollmentToken ? html` data-enrollment-token="${data.enrollmentToken}"` : ''}>${label}</button>
<p class="hint" id="passkey-status-${kind}" aria-live="polite"></p>`;
}

export function renderSecondStepPage(
  settings: PageSettings,
  view: {
    mfaToken: string;
    factors: readonly FactorSummary[];
    returnTo: string | undefined;
    basePath: string;
    script: SafeHtml;
  },
  failure: FormFailure = NO_FAILURE,
): string {
  const hasApp = view.factors.some((f) => f.type === 'totp');
  const hasPasskey = view.factors.some((f) => f.type === 'webauthn');
  const next = view.returnTo ?? `${view.basePath}/account`;
  return layout(
    { appName: settings.appName, title: 'Second step' },
    html`${errorSummary(failure, CODE_LABELS)}
<p>One more step: finish signing in with your second factor.</p>
${
  hasApp
    ? html`<form method="post" action="/login/mfa" novalidate>
${hidden('mfa_token', view.mfaToken)}${hidden('return_to', view.returnTo)}
${field({ name: 'otp', label: CODE_LABELS.otp, autocomplete: 'one-time-code', maxLength: 20, hint: 'The 6-digit code the app shows now.' }, failure)}
<button type="submit">Continue</button>
</form>`
    : ''
}
${hasPasskey ? html`<section class="alternative">${passkeyButton('mfa', 'Use your passkey', { base: view.basePath, next, mfaToken: view.mfaToken })}</section>` : ''}
<section aria-labelledby="recovery-title" class="alternative">
<h2 id="recovery-title">Lost your device?</h2>
<form method="post" action="/login/mfa" novalidate>
${hidden('mfa_token', view.mfaToken)}${hidden('return_to', view.returnTo)}
${field({ form: 'recovery', name: 'recovery_code', label: CODE_LABELS.recovery_code, autocomplete: 'off', maxLength: 40, required: false }, failure)}
<button type="submit" class="secondary">Use a recovery code</button>
</form>
</section>
${hasPasskey ? view.script : ''}`,
  );
}

/** Where the setup's code goes: the signed-in account page's, or a sign-in's enrolment by policy. */
export type TotpSetupTarget =
  | { readonly csrfToken: string; readonly username: string }
  | { readonly enrollmentToken: string; readonly returnTo: string | undefined };

export function renderTotpSetupPage(
  settings: PageSettings,
  view: { id: string; secret: string; qrSvg: string; target: TotpSetupTarget },
  failure: FormFailure = NO_FAILURE,
): string {
  const { target } = view;
  const signedIn = 'csrfToken' in target;
  return layout(
    {
      appName: settings.appName,
      title: 'Set up an authenticator app',
      ...(signedIn ? { signedInAs: target.username } : {}),
    },
    html`${errorSummary(failure, { code: 'Code from the app' })}
<p>Scan this code with your authenticator app, or type the key by hand.</p>
<div class="qr">${new SafeHtml(view.qrSvg)}</div>
<p>Key: <code class="secret">${view.secret.replace(/(.{4})/g, '$1 ').trim()}</code></p>
<form method="post" action="${signedIn ? '/account' : '/login/enrollment'}/factors/totp/${view.id}/confirm" novalidate>
${signedIn ? hidden('csrf_token', target.csrfToken) : html`${hidden('enrollment_token', target.enrollmentToken)}${hidden('return_to', target.returnTo)}`}
${field({ name: 'code', label: 'Code from the app', autocomplete: 'one-time-code', maxLength: 20, hint: 'Enter the 6-digit code it shows to finish.' }, failure)}
<button type="submit">Confirm</button>
</form>`,
  );
}

export function renderRecoveryCodesPage(
  settings: PageSettings,
  username: string,
  codes: readonly string[],
  /** A sign-in's `return_to` (a path of the whole site) to continue to; else the account page. */
  continueTo?: string,
): string {
  return layout(
    { appName: settings.appName, title: 'Your recovery codes', signedInAs: username },
    html`<p>Each code signs you in once if you lose your second factor. Keep them somewhere safe: they are shown only now.</p>
<ol class="recovery-codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ol>
${continueLink(continueTo)}`,
  );
}

/**
 * The link on to `return_to`, single-quoted: it is a path of the whole site, which the prefix
 * rewrite of Gatehouse's own `href="/…"` (pages/base-path.ts) must leave as it is.
 */
export function continueLink(continueTo: string | undefined): SafeHtml {
  return continueTo === undefined
    ? html`<p><a href="/account">Back to your account</a></p>`
    : html`<p><a href='${continueTo}'>Continue</a></p>`;
}

export function twoFactorSection(view: {
  factors: readonly FactorView[];
  recoveryCodesLeft: number;
  csrfToken: string;
  basePath: string;
  script: SafeHtml;
}): SafeHtml {
  const confirmed = view.factors.filter((f) => f.confirmed);
  return html`<section aria-labelledby="mfa-title">
<h2 id="mfa-title">Two-factor authentication</h2>
${
  confirmed.length === 0
    ? html`<p>Add a second factor: signing in will then need it as well as your password.</p>`
    : html`<ul class="factors">${confirmed.map(
        (
          f,
        ) => html`<li><strong>${f.name}</strong> (${f.type === 'totp' ? 'authenticator app' : 'passkey'}) · added ${when(f.createdAt)} · last used ${when(f.lastUsedAt)}
<form method="post" action="/account/factors/${f.id}/remove" class="inline-form">${hidden('csrf_token', view.csrfToken)}<button type="submit" class="secondary">Remove<span class="visually-hidden"> ${f.name}</span></button></form></li>`,
      )}</ul>
<p>Recovery codes left: ${view.recoveryCodesLeft}.</p>
<form method="post" action="/account/recovery-codes" class="inline-form">${hidden('csrf_token', view.csrfToken)}<button type="submit" class="secondary">Make new recovery codes</button></form>`
}
<div class="actions">
<form method="post" action="/account/factors/totp">${hidden('csrf_token', view.csrfToken)}<button type="submit">Set up an authenticator app</button></form>
${passkeyButton('register', 'Add a passkey', { base: view.basePath, csrf: view.csrfToken })}
</div>
<section id="passkey-recovery-codes" hidden><h3>Your recovery codes</h3><p>Each signs you in once. They are shown only now.</p><ol class="recovery-codes"></ol></section>
${view.script}
</section>`;
}
