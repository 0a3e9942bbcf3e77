import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not depend on the app's schema types.
type AnyDb = Kysely<any>;

const USER = ['profile:read', 'profile:write'];
const MODERATOR = [...USER, 'users:read'];
const ADMIN = [
  ...MODERATOR,
  'users:write',
  'roles:read',
  'roles:write',
  'sessions:revoke',
  'audit:read',
  'apikeys:write',
];

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('role_permissions')
    .addColumn('role_name', 'text', (c) =>
      c.notNull().references('roles.name').onDelete('cascade').onUpdate('cascade'),
    )
    .addColumn('permission', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('role_permissions_pk', ['role_name', 'permission'])
    .execute();
  const seed = [
    ...USER.map((permission) => ({ role_name: 'user', permission })),
    ...MODERATOR.map((permission) => ({ role_name: 'moderator', permission })),
    ...ADMIN.map((permission) => ({ role_name: 'admin', permission })),
  ];
  await db.insertInto('role_permissions').values(seed).execute();

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('api_keys_user_idx')
    .on('api_keys')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema.createIndex('users_created_idx').on('users').columns(['created_at', 'id']).execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('users_created_idx').execute();
  await db.schema.dropTable('api_keys').execute();
  await db.schema.dropTable('role_permissions').execute();
}
