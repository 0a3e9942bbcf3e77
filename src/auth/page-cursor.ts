/**
 * Keyset-pagination cursors: an opaque base64url of `[time, id]`. A cursor comes back from the
 * client, so it is read strictly: a fraction or a number past 2^53 would reach a `bigint` column,
 * and PostgreSQL refuses both with an error instead of an empty page.
 */
import { InvalidFieldError } from './errors.ts';

export interface CursorPosition {
  /** Epoch milliseconds of the last row shown. */
  readonly at: number;
  readonly id: string;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** Throws INVALID_FIELD on the `cursor` query parameter when it is not one `encodeCursor` made. */
export function decodeCursor(cursor: string): CursorPosition {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    Number.isSafeInteger(value[0]) &&
    value[0] >= 0 &&
    typeof value[1] === 'string' &&
    ID.test(value[1])
  ) {
    return { at: value[0], id: value[1] };
  }
  throw new InvalidFieldError('cursor', 'Invalid cursor', 'value_error.cursor', 'query');
}
