import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AuditLog, AuditRecord } from '../../auth/audit-log.ts';
import { decodeCursor, encodeCursor } from '../../auth/page-cursor.ts';
import type { Guards } from '../guards.ts';
import { ErrorDetail, ValidationErrorBody } from '../schemas.ts';

const AuditEvent = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  event: Type.String(),
  user_id: Type.Union([Type.String(), Type.Null()], { description: 'The account the event concerns' }),
  session_id: Type.Union([Type.String(), Type.Null()]),
  actor_id: Type.Union([Type.String(), Type.Null()], {
    description: 'The signed-in user who made the change; null when anonymous or the operator CLI',
  }),
  target: Type.Union([Type.String(), Type.Null()], {
    description: 'What changed: a user id, role name, API key id or session id (the event says which)',
  }),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(
    Type.String(),
    Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null(), Type.Array(Type.String())]),
    { description: 'Names of the changed fields (`fields`), counts, reasons; never a secret or a value' },
  ),
});

/** The event's details as the response types them: its lists copied (the record's are read-only). */
function detailsOf(record: AuditRecord): Record<string, string | number | boolean | null | string[]> {
  const details: Record<string, string | number | boolean | null | string[]> = {};
  for (const [key, value] of Object.entries(record.details ?? {})) {
    details[key] = typeof value === 'object' && value !== null ? [...value] : value;
  }
  return details;
}

export interface AuditRouteOptions {
  readonly audit: AuditLog;
  readonly guards: Guards;
}

export const auditRoutes: FastifyPluginAsyncTypebox<AuditRouteOptions> = async (app, options) => {
  const { audit } = options;
  app.get(
    '/audit',
    {
      onRequest: options.guards.requirePermission('audit:read'),
      schema: {
        summary: 'The audit log, newest first',
        description: 'Every event type and the events each route writes: docs/audit-events.md.',
        tags: ['admin'],
        querystring: Type.Object({
          user_id: Type.Optional(Type.String({ maxLength: 64 })),
          actor_id: Type.Optional(Type.String({ maxLength: 64 })),
          event: Type.Optional(Type.String({ maxLength: 64 })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(AuditEvent),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          401: ErrorDetail,
          403: ErrorDetail,
          422: ValidationErrorBody,
        },
      },
    },
    async (request) => {
      const { user_id, actor_id, event, cursor, limit = 100 } = request.query;
      const rows = await audit.list({
        limit: limit + 1,
        ...(user_id !== undefined ? { userId: user_id } : {}),
        ...(actor_id !== undefined ? { actorId: actor_id } : {}),
        ...(event !== undefined ? { event } : {}),
        ...(cursor !== undefined ? { before: decodeCursor(cursor) } : {}),
      });
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map((e) => ({
          id: e.id,
          at: new Date(e.at).toISOString(),
          event: e.event,
          user_id: e.userId ?? null,
          session_id: e.sessionId ?? null,
          actor_id: e.actorId ?? null,
          target: e.target ?? null,
          ip: e.ip ?? null,
          user_agent: e.userAgent ?? null,
          details: detailsOf(e),
        })),
        next_cursor: rows.length > limit && last ? encodeCursor(last) : null,
      };
    },
  );
};
