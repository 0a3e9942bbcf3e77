/**
 * Items API: a Fastify app with Gatehouse embedded. Every item has an owner. Users read and write
 * their own items; moderators read everyone's; admins delete anyone's. Who may do what is a set
 * of permissions given to roles, checked by Gatehouse's guards, so an admin can change it at
 * runtime (`PATCH /roles/{name}`) and an access token or API key can be narrowed to some of it.
 */
import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { type GatehouseFromOptions, gatehouse, operatorActor, type Principal } from 'gatehouse';

/** The permissions this app adds to Gatehouse's built-in roles at start (if missing). */
export const ITEM_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  user: ['items:read', 'items:write'],
  moderator: ['items:read', 'items:write', 'items:read_any'],
  admin: ['items:read', 'items:write', 'items:read_any', 'items:delete_any'],
};

export interface ItemsApiOptions {
  /** Gatehouse settings, by their option names (`databaseUrl`, `issuer`, …). */
  readonly gatehouse: GatehouseFromOptions;
  /** The items' own SQLite file, or `:memory:`. */
  readonly itemsDatabase: string;
  readonly logger?: boolean;
}

interface Item {
  id: string;
  owner_id: string;
  title: string;
  done: boolean;
  created_at: string;
}

interface ItemRow {
  id: string;
  owner_id: string;
  title: string;
  done: number;
  created_at: string;
}

const toItem = (row: ItemRow): Item => ({ ...row, done: row.done === 1 });

const itemSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    owner_id: { type: 'string' },
    title: { type: 'string' },
    done: { type: 'boolean' },
    created_at: { type: 'string' },
  },
};
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 64 } },
};

function notFound(reply: FastifyReply) {
  return reply.code(404).send({ detail: 'Item not found' });
}

function forbidden(reply: FastifyReply) {
  return reply.code(403).send({ detail: 'Not enough permissions' });
}

/** Set by the guard on every route below, so never null there. */
function callerOf(principal: Principal | null): Principal {
  if (principal === null) throw new Error('route without a guard');
  return principal;
}

export async function buildItemsApi(options: ItemsApiOptions): Promise<FastifyInstance> {
  const items = new DatabaseSync(options.itemsDatabase);
  items.exec(`CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    title TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
  )`);
  items.exec('CREATE INDEX IF NOT EXISTS items_owner ON items (owner_id, created_at)');
  const findItem = (id: string) =>
    items.prepare('SELECT * FROM items WHERE id = ?').get(id) as ItemRow | undefined;

  // Refuse unknown fields and wrong types instead of Fastify's default of dropping and coercing them.
  const app = Fastify({
    logger: options.logger ?? false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  app.addHook('onClose', async () => items.close());
  await app.register(gatehouse, options.gatehouse);

  // Give the built-in roles this app's permissions, keeping whatever an admin set.
  const { roles } = app.gatehouse.services;
  for (const role of await roles.listRoles()) {
    const wanted = ITEM_PERMISSIONS[role.name] ?? [];
    const missing = wanted.filter((permission) => !role.permissions.includes(permission));
    if (missing.length > 0)
      await roles.updateRole(operatorActor('items-api'), role.name, {
        permissions: [...role.permissions, ...missing],
      });
  }

  const { guards } = app.gatehouse;

  app.get(
    '/items',
    {
      onRequest: guards.requireScopes('items:read'),
      schema: {
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: itemSchema } } } },
      },
    },
    async (request) => {
      const caller = callerOf(request.principal);
      const rows = caller.scopes.has('items:read_any')
        ? items.prepare('SELECT * FROM items ORDER BY created_at, id').all()
        : items.prepare('SELECT * FROM items WHERE owner_id = ? ORDER BY created_at, id').all(caller.user.id);
      return { items: (rows as unknown as ItemRow[]).map(toItem) };
    },
  );

  app.post(
    '/items',
    {
      onRequest: guards.requireScopes('items:write'),
      schema: {
        body: {
          type: 'object',
          required: ['title'],
          additionalProperties: false,
          properties: { title: { type: 'string', minLength: 1, maxLength: 200 } },
        },
        response: { 201: itemSchema },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request.principal);
      const { title } = request.body as { title: string };
      const row: ItemRow = {
        id: randomUUID(),
        owner_id: caller.user.id,
        title,
        done: 0,
        created_at: new Date().toISOString(),
      };
      items
        .prepare('INSERT INTO items (id, owner_id, title, done, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(row.id, row.owner_id, row.title, row.done, row.created_at);
      return reply.code(201).send(toItem(row));
    },
  );

  app.get(
    '/items/:id',
    {
      onRequest: guards.requireScopes('items:read'),
      schema: { params: idParams, response: { 200: itemSchema } },
    },
    async (request, reply) => {
      const caller = callerOf(request.principal);
      const row = findItem((request.params as { id: string }).id);
      // Someone else's item is "not found" unless the caller may read everyone's.
      if (row === undefined || (row.owner_id !== caller.user.id && !caller.scopes.has('items:read_any')))
        return notFound(reply);
      return toItem(row);
    },
  );

  app.patch(
    '/items/:id',
    {
      onRequest: guards.requireScopes('items:write'),
      schema: {
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { title: { type: 'string', minLength: 1, maxLength: 200 }, done: { type: 'boolean' } },
        },
        response: { 200: itemSchema },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request.principal);
      const row = findItem((request.params as { id: string }).id);
      if (row === undefined) return notFound(reply);
      if (row.owner_id !== caller.user.id) {
        // Moderators see the item, so they learn it exists, but only its owner changes it.
        return caller.scopes.has('items:read_any') ? forbidden(reply) : notFound(reply);
      }
      const changes = request.body as { title?: string; done?: boolean };
      const updated: ItemRow = {
        ...row,
        title: changes.title ?? row.title,
        done: changes.done === undefined ? row.done : Number(changes.done),
      };
      items
        .prepare('UPDATE items SET title = ?, done = ? WHERE id = ?')
        .run(updated.title, updated.done, row.id);
      return toItem(updated);
    },
  );

  app.delete(
    '/items/:id',
    { onRequest: guards.requireScopes('items:write'), schema: { params: idParams } },
    async (request, reply) => {
      const caller = callerOf(request.principal);
      const row = findItem((request.params as { id: string }).id);
      if (row === undefined) return notFound(reply);
      const own = row.owner_id === caller.user.id;
      if (!own && !caller.scopes.has('items:delete_any')) {
        return caller.scopes.has('items:read_any') ? forbidden(reply) : notFound(reply);
      }
      items.prepare('DELETE FROM items WHERE id = ?').run(row.id);
      return reply.code(204).send();
    },
  );

  return app;
}
