/**
 * A PostgreSQL dialect whose introspection looks only at the connection's own schema
 * (`current_schema()`, the search_path), which is all the migrator asks about.
 *
 * Kysely's PostgresIntrospector lists the tables of every schema on the database and resolves
 * each schema again by name (`has_schema_privilege(nspname, …)`, `pg_get_serial_sequence`). The
 * list comes from the query's snapshot, the name lookups from the catalog as it is now: a schema
 * that another deployment or test run drops while the query runs fails it with `schema "…" does
 * not exist` (3F000), and with it our migration. Nobody else drops our own schema.
 */
import {
  type ColumnMetadata,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  type Kysely,
  PostgresDialect,
  PostgresIntrospector,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from 'kysely';

interface ColumnRow {
  table_name: string;
  table_kind: string;
  schema_name: string;
  column_name: string;
  not_null: boolean;
  has_default: boolean;
  type_name: string;
  type_schema: string;
  description: string | null;
  serial_sequence: string | null;
}

class OwnSchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;

  constructor(db: Kysely<unknown>) {
    this.#db = db;
  }

  /** Names only, read in one catalog scan: nothing is looked up by name. */
  getSchemas(): Promise<SchemaMetadata[]> {
    return new PostgresIntrospector(this.#db).getSchemas();
  }

  async getTables(
    options: DatabaseMetadataOptions = { withInternalKyselyTables: false },
  ): Promise<TableMetadata[]> {
    const { rows } = await sql<ColumnRow>`
      select c.relname as table_name, c.relkind as table_kind, ns.nspname as schema_name,
        a.attname as column_name, a.attnotnull as not_null, a.atthasdef as has_default,
        typ.typname as type_name, dtns.nspname as type_schema,
        col_description(a.attrelid, a.attnum) as description,
        pg_get_serial_sequence(format('%I.%I', ns.nspname, c.relname), a.attname) as serial_sequence
      from pg_catalog.pg_namespace ns
        join pg_catalog.pg_class c on c.relnamespace = ns.oid
        join pg_catalog.pg_attribute a on a.attrelid = c.oid
        join pg_catalog.pg_type typ on typ.oid = a.atttypid
        join pg_catalog.pg_namespace dtns on dtns.oid = typ.typnamespace
      where ns.nspname = current_schema()
        and c.relkind in ('r', 'v', 'p')
        and a.attnum > 0
        and not a.attisdropped
        ${
          options.withInternalKyselyTables
            ? sql``
            : sql`and c.relname not in (${DEFAULT_MIGRATION_TABLE}, ${DEFAULT_MIGRATION_LOCK_TABLE})`
        }
      order by c.relname, a.attnum`.execute(this.#db);
    const tables = new Map<string, TableMetadata & { columns: ColumnMetadata[] }>();
    for (const row of rows) {
      let table = tables.get(row.table_name);
      if (table === undefined) {
        table = {
          name: row.table_name,
          schema: row.schema_name,
          isView: row.table_kind === 'v',
          columns: [],
        };
        tables.set(row.table_name, table);
      }
      table.columns.push({
        name: row.column_name,
        dataType: row.type_name,
        dataTypeSchema: row.type_schema,
        isNullable: !row.not_null,
        hasDefaultValue: row.has_default,
        isAutoIncrementing: row.serial_sequence !== null,
        ...(row.description === null ? {} : { comment: row.description }),
      });
    }
    return [...tables.values()];
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}

/** PostgresDialect, with introspection confined to the connection's own schema. */
export class OwnSchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new OwnSchemaIntrospector(db);
  }
}
