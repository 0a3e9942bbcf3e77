import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { onRequestAsyncHookHandler } from 'fastify';
import { Type } from 'typebox';
import type { SessionService } from '../../auth/sessions.ts';
import { clearSessionCookie, type SessionCookie } from '../cookies.ts';
import { BEARER_SECURITY, type Guards, principalOf } from '../guards.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, PublicUserSchema, ValidationErrorBody } from '../schemas.ts';

const SessionItem = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

const failures = { 400: ErrorDetail, 401: ErrorDetail, 403: ErrorDetail };
const iso = (ms: number) => new Date(ms).toISOString();

export interface SessionRouteOptions {
  readonly sessions: SessionService;
  readonly guards: Guards;
  readonly cookie: SessionCookie;
  readonly forms?: PageForms | undefined;
  /** With the OpenID Provider: sends a relying party's cross-site logout post on (end-session.ts). */
  readonly relyingPartyLogout?: onRequestAsyncHookHandler | undefined;
}

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRouteOptions> = async (app, options) => {
  const { sessions, guards, cookie } = options;

  app.post(
    '/logout',
    {
      onRequest: options.relyingPartyLogout
        ? [options.relyingPartyLogout, guards.requireUser]
        : guards.requireUser,
      config: { gatehouse: { htmlForm: options.forms?.logout } },
      schema: {
        summary: 'Log out: revoke the current session',
        description: 'Its access tokens are refused from the next request on; the session cookie is cleared.',
        tags: ['sessions'],
        security: BEARER_SECURITY,
        response: { 204: Type.Null(), ...failures },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.sessionId !== undefined) {
        await sessions.logout(principal.sessionId, principal.user.id, requestContext(request));
      }
      clearSessionCookie(reply, cookie);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/session',
    {
      onRequest: guards.requireUser,
      config: { gatehouse: { noStore: true } },
      schema: {
        summary: 'The current session',
        description: 'With the session cookie, also the `csrf_token` to send as `X-CSRF-Token`.',
        tags: ['sessions'],
        security: BEARER_SECURITY,
        response: {
          200: Type.Object({
            user: PublicUserSchema,
            session_id: Type.Union([Type.String(), Type.Null()]),
            csrf_token: Type.Union([Type.String(), Type.Null()]),
          }),
          ...failures,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return {
        user: principal.user,
        session_id: principal.sessionId ?? null,
        csrf_token: principal.csrfToken ?? null,
      };
    },
  );

  app.get(
    '/sessions',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: 'Your live sessions',
        tags: ['sessions'],
        security: BEARER_SECURITY,
        response: { 200: Type.Object({ items: Type.Array(SessionItem) }), ...failures },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const items = await sessions.listSessions(principal.user.id, principal.sessionId);
      return {
        items: items.map((s) => ({
          id: s.id,
          created_at: iso(s.createdAt),
          last_used_at: iso(s.lastUsedAt),
          ip: s.ip,
          user_agent: s.userAgent,
          current: s.current,
        })),
      };
    },
  );

  app.delete(
    '/sessions/:id',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: 'Revoke one of your sessions',
        tags: ['sessions'],
        security: BEARER_SECURITY,
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), 404: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await sessions.revokeSession(principal.user.id, request.params.id, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/sessions',
    {
      onRequest: guards.requireUser,
      schema: {
        summary: 'Log out everywhere: revoke all your sessions',
        tags: ['sessions'],
        security: BEARER_SECURITY,
        response: { 204: Type.Null(), ...failures },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await sessions.revokeAllSessions(principal.user.id, requestContext(request));
      clearSessionCookie(reply, cookie);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/users/me/password',
    {
      onRequest: [guards.requireScopes('profile:write'), guards.requireStepUp()],
      config: { gatehouse: { htmlForm: options.forms?.changePassword } },
      schema: {
        summary: 'Change your password',
        description:
          'Needs the `profile:write` scope and a recent sign-in (`REAUTH_REQUIRED` otherwise; see `POST /reauthenticate`). A wrong current password counts as a failed login. Applies the password policy and revokes every other session of yours.',
        tags: ['users'],
        body: Type.Object({
          current_password: Type.String({ maxLength: 1024 }),
          new_password: Type.String({ maxLength: 1024 }),
        }),
        response: { 204: Type.Null(), 422: ValidationErrorBody, ...failures },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await sessions.changePassword(
        principal.user.id,
        request.body.current_password,
        request.body.new_password,
        principal.sessionId,
        requestContext(request),
      );
      return reply.code(204).send(null);
    },
  );
};
