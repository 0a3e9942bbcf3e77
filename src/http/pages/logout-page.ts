/** The RP-initiated logout's confirmation page (OpenID Connect RP-Initiated Logout 1.0 §2). */
import { hidden } from './forms.ts';
import { html, layout } from './layout.ts';

export function renderLogoutConfirmPage(options: {
  readonly appName: string;
  readonly clientName: string | undefined;
  readonly parameters: Readonly<Record<string, string>>;
  readonly csrfToken: string;
  readonly signedInAs: string;
}): string {
  return layout(
    { appName: options.appName, title: 'Sign out?', signedInAs: options.signedInAs },
    html`<p>${options.clientName ? html`<strong>${options.clientName}</strong> asks to sign you out of ${options.appName}.` : html`An app asks to sign you out of ${options.appName}.`}</p>
<p>Signing out here also signs you out of the apps you opened with this sign-in.</p>
<form method="post" action="/logout/confirm">
${hidden('csrf_token', options.csrfToken)}
${Object.entries(options.parameters).map(([name, value]) => hidden(name, value))}
<button type="submit">Sign out</button>
</form>
<p><a href="/account">Stay signed in</a></p>`,
  );
}

/** The confirmation's post when there is no session to end (it ended meanwhile, or another tab signed out). */
export function renderLogoutFailedPage(appName: string, message: string): string {
  return layout(
    { appName, title: 'Sign out' },
    html`<p role="alert">${message}</p>
<p><a href="/login">Sign in</a></p>`,
  );
}
