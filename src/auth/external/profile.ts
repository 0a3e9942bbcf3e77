/** What Gatehouse learns about the person from a provider: who they are there, and their address. */
import type { JWTPayload } from 'jose';
import { ExternalSignInError } from '../errors.ts';
import type { ExternalProvider } from './providers.ts';

export interface ExternalProfile {
  readonly provider: string;
  /** The provider's stable id of the person (`sub`; GitHub's numeric user id). */
  readonly subject: string;
  readonly email: string | null;
  /** The provider says it verified `email` (trusted only from providers that may, see `trustEmail`). */
  readonly emailVerified: boolean;
  /** A username to start from for a new account: the provider's login name. */
  readonly usernameHint: string | null;
  readonly fullName: string | null;
}

const text = (value: unknown, max = 320): string | null =>
  typeof value === 'string' && value.trim() !== '' && value.length <= max ? value.trim() : null;

export function profileFromIdToken(provider: string, claims: JWTPayload): ExternalProfile {
  const subject = text(claims.sub, 255);
  if (subject === null) throw new ExternalSignInError('ID token without sub');
  // OIDC Core §5.1: email_verified is a boolean; anything else counts as not verified.
  return {
    provider,
    subject,
    email: text(claims.email),
    emailVerified: claims.email_verified === true,
    usernameHint: text(claims.preferred_username, 64) ?? text(claims.nickname, 64),
    fullName: text(claims.name, 200),
  };
}

interface GithubEmail {
  readonly email?: unknown;
  readonly primary?: unknown;
  readonly verified?: unknown;
}

async function githubGet(provider: ExternalProvider, path: string, accessToken: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${provider.apiUrl}${path}`, {
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${accessToken}`,
        'user-agent': 'Gatehouse',
        'x-github-api-version': '2022-11-28',
      },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new ExternalSignInError(`GitHub ${path} unreachable: ${String(error)}`, undefined, {
      cause: error,
    });
  }
  if (!response.ok) throw new ExternalSignInError(`GitHub ${path} answered ${response.status}`);
  // A proxy's error page instead of JSON is the provider failing, not us.
  return response.json().catch((error: unknown) => {
    throw new ExternalSignInError(`GitHub ${path} answered no JSON`, undefined, { cause: error });
  });
}

/** GitHub's user, and its primary address counted as verified only when GitHub says it is. */
export async function githubProfile(
  provider: ExternalProvider,
  accessToken: string,
): Promise<ExternalProfile> {
  const user = (await githubGet(provider, '/user', accessToken)) as Record<string, unknown>;
  if (typeof user.id !== 'number' && typeof user.id !== 'string') {
    throw new ExternalSignInError('GitHub user without id');
  }
  const emails = await githubGet(provider, '/user/emails', accessToken);
  const primary = Array.isArray(emails)
    ? (emails as GithubEmail[]).find((entry) => entry.primary === true)
    : undefined;
  const primaryEmail = text(primary?.email);
  return {
    provider: provider.name,
    subject: String(user.id),
    email: primaryEmail ?? text(user.email),
    emailVerified: primaryEmail !== null && primary?.verified === true,
    usernameHint: text(user.login, 64),
    fullName: text(user.name, 200),
  };
}
