/**
 * External sign-in on the hosted pages: "Continue with …" links on /login and /register (plain
 * links, so they work without JavaScript and the CSP's `form-action 'self'` never meets the
 * provider's address), and the connected accounts on /account. Marks are inline SVG.
 */
import type { IdentityView, ProviderSummary } from '../../auth/external/sign-in.ts';
import { hidden } from './forms.ts';
import { html, layout, type SafeHtml } from './layout.ts';

const GITHUB_MARK = html`<svg class="provider-mark" viewBox="0 0 16 16" width="20" height="20" aria-hidden="true" focusable="false"><path fill="currentColor" d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.013 8.013 0 0016 8c0-4.42-3.58-8-8-8z"/></svg>`;

const GOOGLE_MARK = html`<svg class="provider-mark" viewBox="0 0 48 48" width="20" height="20" aria-hidden="true" focusable="false"><path fill="#EA4335" d="M24 9.5c3.54 0 6.71 1.22 9.21 3.6l6.85-6.85C35.9 2.38 30.47 0 24 0 14.62 0 6.51 5.38 2.56 13.22l7.98 6.19C12.43 13.72 17.74 9.5 24 9.5z"/><path fill="#4285F4" d="M46.98 24.55c0-1.57-.15-3.09-.38-4.55H24v9.02h12.94c-.58 2.96-2.26 5.48-4.78 7.18l7.73 6c4.51-4.18 7.09-10.36 7.09-17.65z"/><path fill="#FBBC05" d="M10.53 28.59c-.48-1.45-.76-2.99-.76-4.59s.27-3.14.76-4.59l-7.98-6.19C.92 16.46 0 20.12 0 24c0 3.88.92 7.54 2.56 10.78l7.97-6.19z"/><path fill="#34A853" d="M24 48c6.48 0 11.93-2.13 15.89-5.81l-7.73-6c-2.15 1.45-4.92 2.3-8.16 2.3-6.26 0-11.57-4.22-13.47-9.91l-7.98 6.19C6.51 42.62 14.62 48 24 48z"/></svg>`;

const KEY_MARK = html`<svg class="provider-mark" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12.65 10A6 6 0 1 0 12.65 14H17v4h4v-4h2v-4H12.65zM7 14a2 2 0 1 1 0-4 2 2 0 0 1 0 4z"/></svg>`;

function markOf(provider: string): SafeHtml {
  if (provider === 'google') return GOOGLE_MARK;
  if (provider === 'github') return GITHUB_MARK;
  return KEY_MARK;
}

/** The "Continue with …" links, or nothing when no provider is configured. */
export function externalSignInButtons(
  providers: readonly ProviderSummary[],
  returnTo: string | undefined,
): SafeHtml | '' {
  if (providers.length === 0) return '';
  const query = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
  return html`<section aria-labelledby="external-title" class="alternative external-sign-in">
<h2 id="external-title">Or continue with</h2>
<ul class="provider-buttons">${providers.map(
    (provider) =>
      html`<li><a class="provider-button" href="/oauth/${encodeURIComponent(provider.name)}/authorize${query}">${markOf(provider.name)}<span>Continue with ${provider.displayName}</span></a></li>`,
  )}</ul>
</section>`;
}

const when = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

/** The account page's connected accounts: each with a disconnect button, then the ones to connect. */
export function connectedAccountsSection(
  providers: readonly ProviderSummary[],
  identities: readonly IdentityView[],
  csrfToken: string,
): SafeHtml | '' {
  if (providers.length === 0 && identities.length === 0) return '';
  const unlinked = providers.filter((p) => !identities.some((identity) => identity.provider === p.name));
  return html`<section aria-labelledby="identities-title">
<h2 id="identities-title">Connected accounts</h2>
${identities.length === 0 ? html`<p>No account at another provider is connected.</p>` : ''}
<ul class="identities">${identities.map(
    (identity) => html`<li class="identity">
<p>${markOf(identity.provider)} <strong>${identity.displayName}</strong>${identity.email ? html` · ${identity.email}` : ''}</p>
<p class="session-meta">Connected ${when(identity.createdAt)} · last used ${when(identity.lastUsedAt)}</p>
<form method="post" action="/account/identities/${encodeURIComponent(identity.id)}/unlink">
${hidden('csrf_token', csrfToken)}
<button type="submit" class="secondary">Disconnect ${identity.displayName}</button>
</form>
</li>`,
  )}</ul>
${unlinked.map(
  (
    provider,
  ) => html`<form method="post" action="/users/me/identities/${encodeURIComponent(provider.name)}" class="inline-form">
${hidden('csrf_token', csrfToken)}
<button type="submit" class="secondary">Connect ${provider.displayName}</button>
</form>`,
)}
</section>`;
}

/** Sent with `Refresh`: on to the provider, with a link for a browser that does not follow it. */
export function renderContinuePage(appName: string, providerName: string, authorizationUrl: string): string {
  return layout(
    { appName, title: `Continue to ${providerName}` },
    html`<p>Taking you to ${providerName} to connect your account.</p>
<p><a class="provider-button" href="${authorizationUrl}">Continue to ${providerName}</a></p>`,
  );
}

/** A passwordless account proves a recent sign-in by signing in with one of its providers again. */
export function signInAgainSection(identities: readonly IdentityView[]): SafeHtml {
  const providers = [
    ...new Map(
      identities.map((i) => [i.provider, { name: i.provider, displayName: i.displayName }]),
    ).values(),
  ];
  return html`<section aria-labelledby="reauth-title">
<h2 id="reauth-title">Confirm it is you</h2>
<p>Changing your email address or connected accounts needs a recent sign-in. Sign in again to continue.</p>
<ul class="provider-buttons">${providers.map(
    (provider) =>
      html`<li><a class="provider-button" href="/oauth/${encodeURIComponent(provider.name)}/authorize?return_to=%2Faccount">${markOf(provider.name)}<span>Sign in again with ${provider.displayName}</span></a></li>`,
  )}</ul>
</section>`;
}
