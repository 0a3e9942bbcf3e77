import type { ProviderSummary } from '../../auth/external/sign-in.ts';
import { EXTERNAL_LOGIN_NOTICES } from './external-notices.ts';
import { externalSignInButtons } from './external-pages.ts';
import { errorSummary, type FormFailure, field, hidden, NO_FAILURE, notice } from './forms.ts';
import { html, layout, type SafeHtml } from './layout.ts';

export interface PageSettings {
  readonly appName: string;
  readonly passwordMinLength: number;
  readonly registrationOpen: boolean;
  /** External sign-in providers, for the "Continue with …" buttons. */
  readonly providers: readonly ProviderSummary[];
}

const LABELS = { username: 'Username or email', password: 'Password' };
const MAGIC_LABELS = { email: 'Email address' };

/** Notices a redirect to /login may ask for, by `?notice=`. */
export const LOGIN_NOTICES: Readonly<Record<string, string>> = {
  registered:
    'Your account is ready. We sent you an email with a link to verify your address. You can sign in now.',
  'signed-out': 'You have signed out.',
  'signed-out-everywhere': 'You have signed out on every device.',
  'password-reset': 'Your password has been changed and every session signed out. Sign in with the new one.',
  'magic-link-sent': 'If this address can sign in, a sign-in link is on its way. Check your email.',
  ...EXTERNAL_LOGIN_NOTICES,
};

export function renderLoginPage(
  settings: PageSettings,
  options: {
    failure?: FormFailure;
    /** A failed "email me a sign-in link" post. */
    magicFailure?: FormFailure;
    returnTo?: string | undefined;
    notice?: string | undefined;
    /** "Sign in with a passkey" and its script (pages/factor-pages.ts). */
    passkey?: SafeHtml | undefined;
    /** The app (an OpenID Provider client) the sign-in is for: "Sign in to continue to …". */
    continueTo?: string | undefined;
    /** The client's `login_hint`: the username field's first value. */
    loginHint?: string | undefined;
  } = {},
): string {
  const failure =
    options.failure ??
    (options.loginHint ? { ...NO_FAILURE, values: { username: options.loginHint } } : NO_FAILURE);
  const magicFailure = options.magicFailure ?? NO_FAILURE;
  return layout(
    { appName: settings.appName, title: 'Sign in' },
    html`${options.continueTo ? html`<p class="continue-to">Sign in to continue to <strong>${options.continueTo}</strong></p>` : ''}${errorSummary(failure, LABELS)}${errorSummary(magicFailure, MAGIC_LABELS, 'magic')}${notice(options.notice)}
<form method="post" action="/login" novalidate>
${hidden('return_to', options.returnTo)}
${field({ name: 'username', label: LABELS.username, autocomplete: options.passkey ? 'username webauthn' : 'username', maxLength: 320 }, failure)}
${field({ name: 'password', label: LABELS.password, type: 'password', autocomplete: 'current-password', maxLength: 1024 }, failure)}
<button type="submit">Sign in</button>
</form>
<p class="links"><a href="/forgot-password">Forgot your password?</a></p>
${options.passkey ?? ''}
${externalSignInButtons(settings.providers, options.returnTo)}
<section aria-labelledby="magic-title" class="alternative">
<h2 id="magic-title">Or sign in with a link</h2>
<form method="post" action="/magic-link" novalidate>
${field({ form: 'magic', name: 'email', label: MAGIC_LABELS.email, type: 'email', autocomplete: 'email', maxLength: 254, hint: 'We email you a link that signs you in once.' }, magicFailure)}
<button type="submit" class="secondary">Email me a sign-in link</button>
</form>
</section>
${settings.registrationOpen ? html`<p class="links">New here? <a href="/register${options.returnTo ? html`?return_to=${encodeURIComponent(options.returnTo)}` : ''}">Create an account</a></p>` : ''}`,
  );
}
