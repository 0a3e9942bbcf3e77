import { externalSignInButtons } from './external-pages.ts';
import { errorSummary, type FormFailure, field, hidden, NO_FAILURE } from './forms.ts';
import { html, layout } from './layout.ts';
import type { PageSettings } from './login-page.ts';

const LABELS = {
  username: 'Username',
  email: 'Email address',
  full_name: 'Full name (optional)',
  password: 'Password',
};

export function renderRegisterPage(
  settings: PageSettings,
  options: { failure?: FormFailure; returnTo?: string | undefined } = {},
): string {
  const failure = options.failure ?? NO_FAILURE;
  if (!settings.registrationOpen) {
    return layout(
      { appName: settings.appName, title: 'Create an account' },
      html`<p>Registration is closed. Ask an administrator for an account.</p>
<p><a href="/login">Sign in</a></p>`,
    );
  }
  return layout(
    { appName: settings.appName, title: 'Create an account' },
    html`${errorSummary(failure, LABELS)}
<form method="post" action="/register" novalidate>
${hidden('return_to', options.returnTo)}
${field({ name: 'username', label: LABELS.username, autocomplete: 'username', hint: '3 to 32 letters, digits, dots, dashes or underscores.', maxLength: 64 }, failure)}
${field({ name: 'email', label: LABELS.email, type: 'email', autocomplete: 'email', maxLength: 254 }, failure)}
${field({ name: 'full_name', label: LABELS.full_name, autocomplete: 'name', required: false, maxLength: 128 }, failure)}
${field({ name: 'password', label: LABELS.password, type: 'password', autocomplete: 'new-password', hint: `At least ${settings.passwordMinLength} characters. A long phrase is easiest to remember.`, maxLength: 1024 }, failure)}
<button type="submit">Create account</button>
</form>
${externalSignInButtons(settings.providers, options.returnTo)}
<p class="links">Already have an account? <a href="/login">Sign in</a></p>`,
  );
}
