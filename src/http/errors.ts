/**
 * The one place where failures become HTTP responses: FastAPI-shaped bodies (`{"detail": …}`),
 * RFC 6749 §5.2 fields on the token endpoint, RFC 6750 §3 `WWW-Authenticate` for bearer failures.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type AnyGatehouseError,
  DatabaseUnavailableError,
  GatehouseError,
  type GatehouseErrorCode,
  RetryLaterError,
} from '../auth/errors.ts';
import type { GatehouseRouteConfig } from '../fastify-types.ts';
import { HttpClientError, type ValidationIssue } from './http-client-error.ts';
import type { FormFailure } from './pages/forms.ts';
import { formFailureOf, sendFormFailure } from './pages/html-form.ts';
import { prefersHtml } from './pages/negotiation.ts';

export { HttpClientError, type ValidationIssue } from './http-client-error.ts';

const STATUS: Record<GatehouseErrorCode, number> = {
  INVALID_CREDENTIALS: 401,
  INACTIVE_USER: 400,
  NOT_AUTHENTICATED: 401,
  INVALID_TOKEN: 401,
  USERNAME_TAKEN: 400,
  EMAIL_TAKEN: 400,
  INVALID_FIELD: 422,
  REGISTRATION_CLOSED: 403,
  UNSUPPORTED_GRANT_TYPE: 400,
  USER_NOT_FOUND: 404,
  INVALID_REFRESH_TOKEN: 400,
  INVALID_SCOPE: 400,
  SESSION_NOT_FOUND: 404,
  INCORRECT_PASSWORD: 400,
  CSRF_FAILED: 403,
  INSUFFICIENT_SCOPE: 403,
  ROLE_NOT_FOUND: 404,
  ROLE_EXISTS: 409,
  ROLE_IN_USE: 409,
  BUILTIN_ROLE: 409,
  LAST_ADMIN: 409,
  API_KEY_NOT_FOUND: 404,
  RATE_LIMITED: 429,
  LOGIN_THROTTLED: 429,
  OVERLOADED: 503,
  EMAIL_NOT_VERIFIED: 400,
  INVALID_EMAIL_TOKEN: 400,
  DATABASE_UNAVAILABLE: 503,
  PRIVILEGE_ESCALATION: 403,
  REAUTH_REQUIRED: 401,
  MFA_REQUIRED: 403,
  MFA_ENROLLMENT_REQUIRED: 403,
  INVALID_MFA_TOKEN: 400,
  INVALID_FACTOR_CODE: 400,
  WEBAUTHN_FAILED: 400,
  FACTOR_NOT_FOUND: 404,
  MFA_STEP_UP_REQUIRED: 401,
  MFA_UNAVAILABLE: 503,
  LAST_SIGN_IN_METHOD: 409,
  UNKNOWN_PROVIDER: 404,
  EXTERNAL_SIGN_IN_FAILED: 400,
  EXTERNAL_ACCOUNT_EXISTS: 409,
  IDENTITY_LINKED_ELSEWHERE: 409,
  IDENTITY_NOT_FOUND: 404,
  INVALID_SUBJECT_TOKEN: 400,
  INVALID_CLIENT: 401,
  CLIENT_NOT_FOUND: 404,
  INVALID_CLIENT_METADATA: 400,
  INVALID_GRANT: 400,
  UNAUTHORIZED_CLIENT: 400,
  INVALID_AUTHORIZATION_REQUEST: 400,
};

/** Codes whose body names them: `{"detail": …, "code": …}`. */
const CODED = new Set<GatehouseErrorCode>([
  'UNKNOWN_PROVIDER',
  'EXTERNAL_SIGN_IN_FAILED',
  'EXTERNAL_ACCOUNT_EXISTS',
  'IDENTITY_LINKED_ELSEWHERE',
  'IDENTITY_NOT_FOUND',
  'LAST_SIGN_IN_METHOD',
  'CLIENT_NOT_FOUND',
]);

/** OAuth error codes for failures of `POST /token` (RFC 6749 §5.2). */
const OAUTH_ERROR: Partial<Record<GatehouseErrorCode, string>> = {
  INVALID_CREDENTIALS: 'invalid_grant',
  INACTIVE_USER: 'invalid_grant',
  UNSUPPORTED_GRANT_TYPE: 'unsupported_grant_type',
  INVALID_REFRESH_TOKEN: 'invalid_grant',
  INVALID_SCOPE: 'invalid_scope',
  EMAIL_NOT_VERIFIED: 'invalid_grant',
  INVALID_EMAIL_TOKEN: 'invalid_grant',
  INVALID_MFA_TOKEN: 'invalid_grant',
  INVALID_FACTOR_CODE: 'invalid_grant',
  WEBAUTHN_FAILED: 'invalid_grant',
  // RFC 8693 §2.2.2: an invalid subject_token is invalid_request.
  INVALID_SUBJECT_TOKEN: 'invalid_request',
  EXTERNAL_SIGN_IN_FAILED: 'invalid_request',
  EXTERNAL_ACCOUNT_EXISTS: 'invalid_grant',
  INVALID_GRANT: 'invalid_grant',
  UNAUTHORIZED_CLIENT: 'unauthorized_client',
};

export function statusOf(code: GatehouseErrorCode): number {
  return STATUS[code];
}

export function sendDomainError(
  error: AnyGatehouseError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const status = STATUS[error.code];
  if (error.code === 'INVALID_FIELD') {
    return reply
      .code(422)
      .send({ detail: [{ loc: [error.location, error.field], msg: error.message, type: error.type }] });
  }
  if (error.code === 'NOT_AUTHENTICATED') {
    const challenge = error.scheme === 'Basic' ? 'Basic realm="gatehouse"' : 'Bearer';
    return reply.code(status).header('www-authenticate', challenge).send({ detail: error.message });
  }
  if (error.code === 'INSUFFICIENT_SCOPE') {
    // RFC 6750 §3: scope-token values never contain `"` or `\`, so quoting is safe.
    const scope = error.scopes.join(' ');
    const challenge =
      scope === ''
        ? 'Bearer error="insufficient_scope"'
        : `Bearer error="insufficient_scope", scope="${scope}"`;
    return reply.code(status).header('www-authenticate', challenge).send({ detail: error.message });
  }
  if (error.code === 'MFA_REQUIRED') {
    return reply.code(status).send({
      error: 'mfa_required',
      error_description: error.message,
      mfa_token: error.mfaToken,
      factors: error.factors,
      detail: error.message,
      code: error.code,
    });
  }
  if (error.code === 'MFA_ENROLLMENT_REQUIRED') {
    return reply.code(status).send({
      error: 'mfa_enrollment_required',
      error_description: error.message,
      enrollment_token: error.enrollmentToken,
      detail: error.message,
      code: error.code,
    });
  }
  if (error.code === 'REAUTH_REQUIRED' || error.code === 'MFA_STEP_UP_REQUIRED') {
    return reply
      .code(status)
      .header('www-authenticate', error.headers['www-authenticate'])
      .send({ detail: error.message, code: error.code });
  }
  if (error.code === 'INVALID_CLIENT') {
    request.log.info({ reason: error.reason }, 'client authentication refused');
    // RFC 6749 §5.2: a client that tried Basic is challenged with the scheme it used.
    if (error.usedBasic) reply.header('www-authenticate', 'Basic realm="gatehouse"');
    return reply
      .code(status)
      .send({ detail: error.message, error: 'invalid_client', error_description: error.message });
  }
  if (error.code === 'INVALID_CLIENT_METADATA' || error.code === 'INVALID_AUTHORIZATION_REQUEST') {
    // RFC 7591 §3.2.2; RFC 6749 §4.1.2.1 (an authorization request answered here, not redirected).
    return reply
      .code(status)
      .send({ detail: error.message, error: error.error, error_description: error.message });
  }
  if (error.code === 'INVALID_TOKEN') {
    request.log.info({ reason: error.reason }, 'bearer token refused');
    return reply
      .code(status)
      .header('www-authenticate', 'Bearer error="invalid_token"')
      .send({ detail: error.message });
  }
  if (error.code === 'PRIVILEGE_ESCALATION') {
    request.log.info({ missing: error.missing }, 'privilege escalation refused');
    return reply.code(status).send({ detail: error.message, code: error.code });
  }
  if (error.code === 'INVALID_SUBJECT_TOKEN' || error.code === 'EXTERNAL_SIGN_IN_FAILED') {
    request.log.info({ reason: error.reason }, 'external sign-in refused');
  }
  if (CODED.has(error.code) && !request.routeOptions.config?.gatehouse?.oauthErrors) {
    return reply.code(status).send({ detail: error.message, code: error.code });
  }
  if (error instanceof RetryLaterError) {
    return reply
      .code(status)
      .header('retry-after', String(error.retryAfterSeconds))
      .send({ detail: error.message });
  }
  const oauthError = request.routeOptions.config?.gatehouse?.oauthErrors
    ? OAUTH_ERROR[error.code]
    : undefined;
  if (oauthError !== undefined) {
    if (status === 401) reply.header('www-authenticate', 'Bearer');
    return reply.code(status).send({
      detail: error.message,
      error: oauthError,
      error_description: error.message,
      ...(CODE_IN_BODY.has(error.code) ? { code: error.code } : {}),
    });
  }
  // Codes added with second factors are said in the body, as docs/errors.md describes them.
  if (CODE_IN_BODY.has(error.code))
    return reply.code(status).send({ detail: error.message, code: error.code });
  return reply.code(status).send({ detail: error.message });
}

const CODE_IN_BODY: ReadonlySet<GatehouseErrorCode> = new Set<GatehouseErrorCode>([
  'INVALID_MFA_TOKEN',
  'INVALID_FACTOR_CODE',
  'WEBAUTHN_FAILED',
  'FACTOR_NOT_FOUND',
  'MFA_UNAVAILABLE',
  'LAST_SIGN_IN_METHOD',
]);

/**
 * A refusal as the client wants it: the form page again for a browser posting a route's form
 * (`config.htmlForm`), the JSON body otherwise.
 */
export async function sendRefusal(
  error: AnyGatehouseError,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const failure = htmlFailure(request, STATUS[error.code], { error });
  if (failure === undefined) return sendDomainError(error, request, reply);
  if (error instanceof RetryLaterError) {
    reply.header('retry-after', String(error.retryAfterSeconds));
  }
  return sendFormFailure(failure.form, request, reply, failure.failure);
}

function htmlFailure(
  request: FastifyRequest,
  status: number,
  cause: Parameters<typeof formFailureOf>[3],
): { form: NonNullable<GatehouseRouteConfig['htmlForm']>; failure: FormFailure } | undefined {
  const form = request.routeOptions.config?.gatehouse?.htmlForm;
  if (form === undefined || !prefersHtml(request)) return undefined;
  return { form, failure: formFailureOf(form, request, status, cause) };
}

function validationIssues(error: FastifyError): ValidationIssue[] {
  const context = error.validationContext ?? 'body';
  return (error.validation ?? []).map((item) => {
    const path = item.instancePath.split('/').filter(Boolean);
    const missing = (item.params as { missingProperty?: string }).missingProperty;
    if (item.keyword === 'required' && missing) path.push(missing);
    const extra = (item.params as { additionalProperty?: string }).additionalProperty;
    if (item.keyword === 'additionalProperties' && extra) path.push(extra);
    const type = item.keyword === 'required' ? 'missing' : item.keyword;
    const msg = item.keyword === 'required' ? 'Field required' : (item.message ?? 'Invalid value');
    return { loc: [context, ...path.map((p) => (/^\d+$/.test(p) ? Number(p) : p))], msg, type };
  });
}

/**
 * A 4xx from the HTTP layer. On the token endpoint a 400 also carries RFC 6749 §5.2
 * `invalid_request`: its response schema requires `error`, so a bare `{detail}` would fail
 * serialization and turn a malformed form (repeated parameter, bad UTF-8, NUL) into a 500.
 */
function sendClientError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  detail: string | ValidationIssue[],
): FastifyReply {
  if (status === 400 && typeof detail === 'string' && request.routeOptions.config?.gatehouse?.oauthErrors) {
    return reply.code(status).send({ detail, error: 'invalid_request', error_description: detail });
  }
  return reply.code(status).send({ detail });
}

const FASTIFY_CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported media type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Invalid Content-Length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Request body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Request body is not valid JSON',
};

/**
 * A refusal is routine (info), except that the database being unavailable is an operator's
 * concern (warn). Only the code and a short reason are logged: never the driver's whole error,
 * whose fields could carry a connection string.
 */
export function logRefusal(request: FastifyRequest, error: GatehouseError): void {
  if (error instanceof DatabaseUnavailableError) {
    request.log.warn({ code: error.code, reason: error.reason }, 'database unavailable');
  } else {
    request.log.info({ code: error.code }, 'request refused');
  }
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error instanceof GatehouseError) {
      logRefusal(request, error);
      return sendRefusal(error as AnyGatehouseError, request, reply);
    }
    if (error instanceof HttpClientError) {
      request.log.info({ status: error.statusCode }, 'request refused');
      const detail = error.issues ?? error.message;
      const page = htmlFailure(request, error.statusCode, { detail });
      if (page !== undefined) return sendFormFailure(page.form, request, reply, page.failure);
      return sendClientError(request, reply, error.statusCode, detail);
    }
    if (error.validation) {
      request.log.info('request failed validation');
      const detail = validationIssues(error);
      const page = htmlFailure(request, 422, { detail });
      if (page !== undefined) return sendFormFailure(page.form, request, reply, page.failure);
      return reply.code(422).send({ detail });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      request.log.info({ code: error.code, status }, 'request refused');
      const detail =
        (error.code && FASTIFY_CLIENT_ERRORS[error.code]) ??
        (status === 413 ? 'Request body too large' : 'Bad request');
      const page = htmlFailure(request, status, { detail });
      if (page !== undefined) return sendFormFailure(page.form, request, reply, page.failure);
      return sendClientError(request, reply, status, detail);
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.code(500).send({ detail: 'Internal Server Error' });
  });
}

/** FastAPI's 404 body; only the standalone server owns the root not-found handler. */
export function installNotFoundHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ detail: 'Not Found' }));
}
