import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type AccountService, toPublicUser } from '../../auth/accounts.ts';
import type { ExternalSignInService } from '../../auth/external/sign-in.ts';
import type { UserAdminService } from '../../auth/user-admin.ts';
import { actorOf, type Guards } from '../guards.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, PublicUserSchema, ValidationErrorBody } from '../schemas.ts';
import { IdentitySchema, toIdentityBody } from './identities.ts';

const AdminUserSchema = Type.Intersect([
  PublicUserSchema,
  Type.Object({
    identities: Type.Array(IdentitySchema, { description: 'Connected accounts at external providers' }),
  }),
]);

const failures = { 400: ErrorDetail, 401: ErrorDetail, 403: ErrorDetail, 422: ValidationErrorBody };
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

const UserList = Type.Object({
  items: Type.Array(PublicUserSchema),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
  total: Type.Union([Type.Integer(), Type.Null()], {
    description: 'With skip/limit paging; null with a cursor',
  }),
});

export interface AdminUserRouteOptions {
  readonly userAdmin: UserAdminService;
  readonly accounts: AccountService;
  readonly externalSignIn: ExternalSignInService;
  readonly guards: Guards;
}

export const adminUserRoutes: FastifyPluginAsyncTypebox<AdminUserRouteOptions> = async (app, options) => {
  const { userAdmin, accounts, externalSignIn, guards } = options;

  app.get(
    '/users',
    {
      onRequest: guards.requirePermission('users:read'),
      schema: {
        summary: 'List users',
        description:
          'Page with `skip`/`limit` (as in the tutorials; returns `total`) or with `cursor` from the previous page (stable while users are added). Filters: `q` (username or email prefix), `role`, `disabled`.',
        tags: ['admin'],
        querystring: Type.Object({
          skip: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
          q: Type.Optional(Type.String({ maxLength: 254 })),
          role: Type.Optional(Type.String({ maxLength: 32 })),
          disabled: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
        }),
        response: { 200: UserList, ...failures },
      },
    },
    async (request) => {
      const { skip, limit, cursor, q, role, disabled } = request.query;
      const page = await userAdmin.list(
        {
          ...(q !== undefined ? { q } : {}),
          ...(role !== undefined ? { role } : {}),
          ...(disabled !== undefined ? { disabled: disabled === 'true' } : {}),
        },
        { limit: limit ?? 100, ...(cursor !== undefined ? { cursor } : { skip: skip ?? 0 }) },
      );
      return { items: page.items.map(toPublicUser), next_cursor: page.nextCursor, total: page.total };
    },
  );

  app.post(
    '/users',
    {
      onRequest: guards.requirePermission('users:write'),
      schema: {
        summary: 'Create a user',
        description:
          'You may give only roles whose every permission your credential holds (403 `PRIVILEGE_ESCALATION`).',
        tags: ['admin'],
        body: Type.Object(
          {
            username: Type.String({ maxLength: 64 }),
            email: Type.String({ maxLength: 254 }),
            full_name: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
            password: Type.String({ maxLength: 1024 }),
            roles: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: PublicUserSchema, ...failures },
      },
    },
    async (request, reply) => {
      const { username, email, full_name, password, roles } = request.body;
      // The user and their roles are one insert: never a user created with other roles than asked.
      const created = await userAdmin.create(
        actorOf(request),
        {
          username,
          email,
          fullName: full_name ?? null,
          password,
          ...(roles !== undefined ? { roles } : {}),
        },
        requestContext(request),
      );
      return reply.code(201).send(toPublicUser(created));
    },
  );

  app.get(
    '/users/:id',
    {
      onRequest: guards.requirePermission('users:read'),
      schema: {
        summary: 'A user',
        tags: ['admin'],
        params: IdParams,
        response: { 200: AdminUserSchema, 404: ErrorDetail, ...failures },
      },
    },
    async (request) => ({
      ...toPublicUser(await accounts.getUserOrThrow(request.params.id)),
      identities: (await externalSignIn.listIdentities(request.params.id)).map(toIdentityBody),
    }),
  );

  app.patch(
    '/users/:id',
    {
      onRequest: guards.requirePermission('users:write'),
      schema: {
        summary: 'Change a user',
        description:
          "Disabling revokes every session. Role changes apply from the user's next request. An admin cannot disable themselves or drop their own admin role, and the last enabled admin stays (409). You may change only users who hold no permission your credential lacks, and give only roles whose permissions it holds (403 `PRIVILEGE_ESCALATION`). Changing `email` needs a recent sign-in (`REAUTH_REQUIRED`).",
        tags: ['admin'],
        params: IdParams,
        body: Type.Object(
          {
            full_name: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
            email: Type.Optional(Type.String({ maxLength: 254 })),
            disabled: Type.Optional(Type.Boolean()),
            roles: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: PublicUserSchema, 404: ErrorDetail, 409: ErrorDetail, ...failures },
      },
    },
    async (request) => {
      const body = request.body;
      // A user's address is where their password resets go: changing it is a credential change.
      if (body.email !== undefined) await guards.assertStepUp(request);
      const updated = await userAdmin.update(
        actorOf(request),
        request.params.id,
        {
          ...(body.full_name !== undefined ? { fullName: body.full_name } : {}),
          ...(body.email !== undefined ? { email: body.email } : {}),
          ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
          ...(body.roles !== undefined ? { roles: body.roles } : {}),
        },
        requestContext(request),
      );
      return toPublicUser(updated);
    },
  );

  app.delete(
    '/users/:id',
    {
      onRequest: guards.requirePermission('users:write'),
      schema: {
        summary: 'Delete a user',
        description:
          'Revokes every session; sessions, refresh tokens and API keys go with the user. Only a user who holds no permission your credential lacks (403 `PRIVILEGE_ESCALATION`).',
        tags: ['admin'],
        params: IdParams,
        response: { 204: Type.Null(), 404: ErrorDetail, 409: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      await userAdmin.delete(actorOf(request), request.params.id, requestContext(request));
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/users/:id/sessions',
    {
      onRequest: guards.requirePermission('sessions:revoke'),
      schema: {
        summary: "Revoke all of a user's sessions",
        description:
          'Only a user who holds no permission your credential lacks (403 `PRIVILEGE_ESCALATION`).',
        tags: ['admin'],
        params: IdParams,
        response: { 204: Type.Null(), 404: ErrorDetail, ...failures },
      },
    },
    async (request, reply) => {
      await userAdmin.revokeSessions(actorOf(request), request.params.id, requestContext(request));
      return reply.code(204).send(null);
    },
  );
};
