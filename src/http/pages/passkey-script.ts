/**
 * The one script of the hosted pages: @simplewebauthn/browser's bundle and a few lines that wire
 * the passkey buttons, served by Gatehouse itself (no CDN). The pages that use it allow exactly
 * this script by its SHA-256 (CSP Level 3 hash with Subresource Integrity); every other page
 * keeps a policy without scripts, and every form still works without JavaScript.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { html, PAGE_CSP, type SafeHtml } from './layout.ts';

const BUNDLE = fileURLToPath(
  new URL('../dist/bundle/index.umd.min.js', import.meta.resolve('@simplewebauthn/browser')),
);

export const PASSKEY_SCRIPT = `${readFileSync(BUNDLE, 'utf8')}\n${readFileSync(new URL('./passkey-glue.js', import.meta.url), 'utf8')}`;
const HASH = `sha256-${createHash('sha256').update(PASSKEY_SCRIPT).digest('base64')}`;
export const PASSKEY_SCRIPT_VERSION = createHash('sha256').update(PASSKEY_SCRIPT).digest('hex').slice(0, 12);
export const PASSKEY_SCRIPT_PATH = '/assets/passkeys.js';

/** The pages' policy, plus this one script and its calls to this origin. */
export const PASSKEY_PAGE_CSP = `${PAGE_CSP}; script-src '${HASH}'; connect-src 'self'`;

export function passkeyScriptTag(basePath: string): SafeHtml {
  return html`<script src="${basePath}${PASSKEY_SCRIPT_PATH}?v=${PASSKEY_SCRIPT_VERSION}" integrity="${HASH}" defer></script>`;
}
