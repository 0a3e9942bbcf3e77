/** What the login and account pages say after an external sign-in or link was refused. */
import type { GatehouseError } from '../../auth/errors.ts';

export const EXTERNAL_LOGIN_NOTICES: Readonly<Record<string, string>> = {
  'external-cancelled': 'Signing in with the provider was cancelled. Try again, or sign in another way.',
  'external-failed':
    'Signing in with the provider did not work (the attempt expired, was already used, or its answer failed our checks). Try again.',
  'external-account-exists':
    'An account with this email address already exists. Sign in with its password, then connect this provider from your account page.',
  'external-registration-closed':
    'No account uses this sign-in, and new accounts cannot be created here. Ask an administrator for an account.',
  'external-inactive': 'This account is disabled.',
  'external-linked-elsewhere': 'That account at the provider is already connected to another user.',
};

export const EXTERNAL_ACCOUNT_NOTICES: Readonly<Record<string, string>> = {
  ...EXTERNAL_LOGIN_NOTICES,
  'identity-linked': 'The account at the provider is connected: you can sign in with it from now on.',
  'identity-unlinked': 'The account at the provider is disconnected.',
};

export function noticeFor(error: GatehouseError): string {
  switch (error.code) {
    case 'EXTERNAL_SIGN_IN_FAILED': {
      const providerError = (error as { providerError?: string }).providerError;
      return providerError === 'access_denied' ? 'external-cancelled' : 'external-failed';
    }
    case 'EXTERNAL_ACCOUNT_EXISTS':
      return 'external-account-exists';
    case 'REGISTRATION_CLOSED':
      return 'external-registration-closed';
    case 'INACTIVE_USER':
      return 'external-inactive';
    case 'IDENTITY_LINKED_ELSEWHERE':
      return 'external-linked-elsewhere';
    default:
      return 'external-failed';
  }
}
