import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RoleRecord, RoleService } from '../../auth/permissions.ts';
import { actorOf, type Guards } from '../guards.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, ValidationErrorBody } from '../schemas.ts';

const Role = Type.Object({
  name: Type.String(),
  description: Type.String(),
  builtin: Type.Boolean(),
  permissions: Type.Array(Type.String()),
});
const failures = { 400: ErrorDetail, 401: ErrorDetail, 403: ErrorDetail, 422: ValidationErrorBody };
const NameParams = Type.Object({ name: Type.String({ maxLength: 32 }) });
const Permissions = Type.Array(Type.String({ maxLength: 128 }), { maxItems: 200 });
const show = (role: RoleRecord) => ({ ...role, permissions: [...role.permissions] });

export interface RoleRouteOptions {
  readonly roles: RoleService;
  readonly guards: Guards;
}

export const roleRoutes: FastifyPluginAsyncTypebox<RoleRouteOptions> = async (app, options) => {
  const { roles, guards } = options;

  app.get(
    '/roles',
    {
      onRequest: guards.requirePermission('roles:read'),
      schema: {
        summary: 'List roles and their permissions',
        tags: ['admin'],
        response: { 200: Type.Object({ items: Type.Array(Role) }), ...failures },
      },
    },
    async () => ({ items: (await roles.listRoles()).map(show) }),
  );

  app.post(
    '/roles',
    {
      onRequest: guards.requirePermission('roles:write'),
      schema: {
        summary: 'Create a role',
        description: 'Only with permissions your credential holds (403 `PRIVILEGE_ESCALATION`).',
        tags: ['admin'],
        body: Type.Object(
          {
            name: Type.String({ maxLength: 64 }),
            description: Type.Optional(Type.String({ maxLength: 500 })),
            permissions: Type.Optional(Permissions),
          },
          { additionalProperties: false },
        ),
        response: { 201: Role, 409: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      const { name, description, permissions } = request.body;
      const created = await roles.createRole(
        actorOf(request),
        name,
        description ?? '',
        permissions ?? [],
        requestContext(request),
      );
      return reply.code(201).send(show(created));
    },
  );

  app.patch(
    '/roles/:name',
    {
      onRequest: guards.requirePermission('roles:write'),
      schema: {
        summary: "Change a role's description or permissions",
        description:
          'Takes effect on the next request of every holder. The admin role keeps every built-in permission. Only a role whose permissions, before and after, your credential holds (403 `PRIVILEGE_ESCALATION`).',
        tags: ['admin'],
        params: NameParams,
        body: Type.Object(
          {
            description: Type.Optional(Type.String({ maxLength: 500 })),
            permissions: Type.Optional(Permissions),
          },
          { additionalProperties: false },
        ),
        response: { 200: Role, 404: ErrorDetail, ...failures },
      },
    },
    async (request) =>
      show(
        await roles.updateRole(actorOf(request), request.params.name, request.body, requestContext(request)),
      ),
  );

  app.delete(
    '/roles/:name',
    {
      onRequest: guards.requirePermission('roles:write'),
      schema: {
        summary: 'Delete a role',
        description:
          'Built-in roles cannot be deleted; a role that users hold needs `?force=true`. Only a role whose permissions your credential holds, and with `force` only if its holders hold no permission your credential lacks (403 `PRIVILEGE_ESCALATION`).',
        tags: ['admin'],
        params: NameParams,
        querystring: Type.Object({
          force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
        }),
        response: { 204: Type.Null(), 404: ErrorDetail, 409: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      await roles.deleteRole(
        actorOf(request),
        request.params.name,
        request.query.force === 'true',
        requestContext(request),
      );
      return reply.code(204).send(null);
    },
  );
};
