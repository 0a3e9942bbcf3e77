/** The consent screen of the OpenID Provider, and the page an unanswerable authorization request shows. */
import { SCOPE_WORDS } from '../../auth/oidc/scopes.ts';
import { hidden } from './forms.ts';
import { html, layout, PAGE_CSP } from './layout.ts';

export function scopeInWords(scope: string): string {
  return SCOPE_WORDS[scope] ?? `Use the permission “${scope}”`;
}

export function renderConsentPage(options: {
  readonly appName: string;
  readonly clientName: string;
  readonly scopes: readonly string[];
  readonly parameters: Readonly<Record<string, string>>;
  readonly csrfToken: string;
  readonly signedInAs: string;
}): string {
  const listed = options.scopes.length > 0 ? options.scopes : ['openid'];
  return layout(
    { appName: options.appName, title: `Allow ${options.clientName}?`, signedInAs: options.signedInAs },
    html`<p><strong>${options.clientName}</strong> would like to:</p>
<ul class="scopes">${listed.map((scope) => html`<li>${scopeInWords(scope)}</li>`)}</ul>
<form method="post" action="/authorize/consent">
${hidden('csrf_token', options.csrfToken)}
${Object.entries(options.parameters).map(([name, value]) => hidden(name, value))}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="hint">You can take this back later from your account page.</p>`,
  );
}

export function renderAuthorizationErrorPage(appName: string, message: string): string {
  return layout(
    { appName, title: 'This sign-in link does not work' },
    html`<p role="alert">${message}</p>
<p>Go back to the app and start signing in again. If this keeps happening, tell the app's owner.</p>`,
  );
}

/**
 * The consent page's CSP: its form may lead (by the server's redirect) to the client's redirect
 * URI, which `form-action` must allow, since browsers check it on a form's redirects too.
 */
export function consentCsp(redirectUri: string): string {
  return allowFormRedirectTo(PAGE_CSP, redirectUri);
}

/** A page CSP whose `form-action` also allows a redirect (after the form) to `redirectUri`. */
export function allowFormRedirectTo(csp: string, redirectUri: string): string {
  const url = new URL(redirectUri);
  // A native app's private-use scheme has no origin: its scheme is the source (`com.example.app:`).
  const source = url.origin === 'null' ? url.protocol : url.origin;
  return csp.replace("form-action 'self'", `form-action 'self' ${source}`);
}
