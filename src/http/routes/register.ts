import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { type AccountService, toPublicUser } from '../../auth/accounts.ts';
import { RegistrationClosedError } from '../../auth/errors.ts';
import type { PageForms } from '../pages/page-forms.ts';
import { requestContext } from '../request-context.ts';
import { ErrorDetail, PublicUserSchema, ValidationErrorBody } from '../schemas.ts';

const RegisterBody = Type.Object(
  {
    username: Type.String({
      minLength: 1,
      maxLength: 64,
      description: '3–32 of A-Z a-z 0-9 _ . - (after NFKC)',
    }),
    email: Type.String({ minLength: 3, maxLength: 254 }),
    full_name: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
    password: Type.String({
      maxLength: 1024,
      description: 'At least the configured minimum, at most 128 characters',
    }),
  },
  { additionalProperties: false },
);

export interface RegisterRouteOptions {
  readonly accounts: AccountService;
  /** GATEHOUSE_REGISTRATION: `closed` refuses self-registration (403). */
  readonly registrationOpen: boolean;
  readonly forms?: PageForms | undefined;
}

export const registerRoutes: FastifyPluginAsyncTypebox<RegisterRouteOptions> = async (app, options) => {
  const { accounts, registrationOpen } = options;
  app.post(
    '/register',
    {
      config: { gatehouse: { rateLimit: 'register', htmlForm: options.forms?.register } },
      schema: {
        summary: 'Register a new user',
        tags: ['users'],
        body: RegisterBody,
        response: { 201: PublicUserSchema, 400: ErrorDetail, 403: ErrorDetail, 422: ValidationErrorBody },
      },
    },
    async (request, reply) => {
      if (!registrationOpen) throw new RegistrationClosedError();
      const { username, email, full_name, password } = request.body;
      // The account service queues the verification mail, as for any self-registration.
      const user = await accounts.register(
        { username, email, fullName: full_name ?? null, password },
        requestContext(request),
      );
      return reply.code(201).send(toPublicUser(user));
    },
  );
};
