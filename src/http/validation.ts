/**
 * Request validation: JSON bodies are checked strictly (no type coercion: `"true"` is not a
 * boolean, `123` is not a password), while the query string, path and headers — which are text
 * by nature — are coerced to the schema's types.
 *
 * Every string a request schema accepts is also held to `TEXT_RULE`: no NUL (PostgreSQL refuses
 * it in `text`, so it would surface as a 500) and no unpaired surrogate (it cannot be written as
 * UTF-8, so it would be stored as U+FFFD, not as sent), and at most `DEFAULT_MAX_LENGTH`
 * characters where the schema names no maximum. Applied here, a route cannot forget it.
 */
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

const TEXT_RULE = 'wellFormedText';
const DEFAULT_MAX_LENGTH = 8192;

function isText(value: string): boolean {
  return !value.includes('\u0000') && value.isWellFormed();
}

function buildAjv(coerceTypes: Options['coerceTypes']): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    allErrors: true,
    strict: false,
  });
  addFormats.default(ajv);
  ajv.addKeyword({
    keyword: TEXT_RULE,
    type: 'string',
    schemaType: 'boolean',
    errors: false,
    error: { message: 'must be text without NUL characters or unpaired surrogates' },
    validate: (enabled: boolean, value: string) => !enabled || isText(value),
  });
  return ajv;
}

/** Keywords whose values are data, and keywords whose values map names to schemas. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

/** A copy of `schema` with `TEXT_RULE` (and a default maximum length) on every string. */
function withTextRule(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withTextRule);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DATA_KEYWORDS.has(key)) copy[key] = value;
    else if (SCHEMA_MAPS.has(key) && typeof value === 'object' && value !== null) {
      copy[key] = Object.fromEntries(Object.entries(value).map(([name, item]) => [name, withTextRule(item)]));
    } else copy[key] = withTextRule(value);
  }
  const type = copy.type;
  if (type === 'string' || (Array.isArray(type) && type.includes('string'))) {
    copy[TEXT_RULE] = true;
    copy.maxLength ??= DEFAULT_MAX_LENGTH;
  }
  return copy;
}

export function installValidation(app: FastifyInstance): void {
  const strict = buildAjv(false);
  const coercing = buildAjv('array');
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(withTextRule(schema) as object),
  );
}
