/** The client credentials a request to a client-authenticated endpoint carries (RFC 6749 §2.3). */
import type { FastifyRequest } from 'fastify';
import type { PresentedClientCredentials } from '../auth/oidc/client-types.ts';

export function presentedClientCredentials(
  request: FastifyRequest,
  form: {
    client_id?: string;
    client_secret?: string;
    client_assertion_type?: string;
    client_assertion?: string;
  },
): PresentedClientCredentials {
  const authorization = request.headers.authorization;
  return {
    authorization: typeof authorization === 'string' ? authorization : undefined,
    clientId: form.client_id,
    clientSecret: form.client_secret,
    clientAssertionType: form.client_assertion_type,
    clientAssertion: form.client_assertion,
  };
}
