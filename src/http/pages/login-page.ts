import { errorSummary, type FormFailure, field, hidden, NO_FAILURE, notice } from './forms.ts';
import { html, layout } from './layout.ts';

export interface PageSettings {
  readonly appName: string;
  readonly passwordMinLength: number;
  readonly registrationOpen: boolean;
}

const LABELS = { username: 'Username or email', password: 'Password' };

/** Notices a redirect to /login may ask for, by `?notice=`. */
export const LOGIN_NOTICES: Readonly<Record<string, string>> = {
  registered: 'Your account is ready. Sign in to continue.',
  'signed-out': 'You have signed out.',
  'signed-out-everywhere': 'You have signed out on every device.',
};

export function renderLoginPage(
  settings: PageSettings,
  options: { failure?: FormFailure; returnTo?: string | undefined; notice?: string | undefined } = {},
): string {
  const failure = options.failure ?? NO_FAILURE;
  return layout(
    { appName: settings.appName, title: 'Sign in' },
    html`${errorSummary(failure, LABELS)}${notice(options.notice)}
<form method="post" action="/login" novalidate>
${hidden('return_to', options.returnTo)}
${field({ name: 'username', label: LABELS.username, autocomplete: 'username', maxLength: 320 }, failure)}
${field({ name: 'password', label: LABELS.password, type: 'password', autocomplete: 'current-password', maxLength: 1024 }, failure)}
<button type="submit">Sign in</button>
</form>
<nav class="links" aria-label="Other ways in">
${settings.registrationOpen ? html`<p>New here? <a href="/register${options.returnTo ? html`?return_to=${encodeURIComponent(options.returnTo)}` : ''}">Create an account</a></p>` : ''}
</nav>`,
  );
}
