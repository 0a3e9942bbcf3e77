/** TypeBox schemas shared by routes: they validate, type handlers and feed the OpenAPI document. */
import { Type } from 'typebox';

export const ErrorDetail = Type.Object(
  { detail: Type.String(), code: Type.Optional(Type.String({ description: 'See docs/errors.md' })) },
  { $id: 'ErrorDetail', description: 'FastAPI-shaped error' },
);

export const OAuthError = Type.Object(
  { detail: Type.String(), error: Type.String(), error_description: Type.String() },
  { description: 'RFC 6749 §5.2 error, with a FastAPI-shaped detail' },
);

export const ValidationErrorBody = Type.Object(
  {
    detail: Type.Array(
      Type.Object({
        loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
        msg: Type.String(),
        type: Type.String(),
      }),
    ),
  },
  { description: 'Request validation failed' },
);

export const PublicUserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    username: Type.String(),
    email: Type.String(),
    full_name: Type.Union([Type.String(), Type.Null()]),
    disabled: Type.Boolean(),
    email_verified: Type.Boolean({ description: 'The address was confirmed through an emailed link' }),
    roles: Type.Array(Type.String()),
    created_at: Type.String({ format: 'date-time' }),
  },
  { description: 'A user as the API shows it (never the password hash)' },
);

export const Message = Type.Object({ message: Type.String() });

export const ref = (id: string) => Type.Unsafe({ $ref: `${id}#` });
