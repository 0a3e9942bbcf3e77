/**
 * The clients registry: registering, changing and removing the OpenID Provider's clients, their
 * secrets (shown once, stored hashed, rotated with an overlap), and the `ClientDirectory` the
 * provider reads them and authenticates them through. Changes are audited and held to the
 * privilege ceiling: a client may be allowed only permissions the acting credential holds.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { recordAuditEvent } from '../../store/audit.ts';
import {
  type ClientRecord,
  deleteClient,
  expireClientSecrets,
  findClient,
  insertClient,
  insertClientSecret,
  listClientSessionIds,
  listClients,
  listLiveClientSecrets,
  updateClient,
} from '../../store/clients.ts';
import type { Store } from '../../store/db.ts';
import { revokeSessions } from '../../store/sessions.ts';
import { ClientNotFoundError, InvalidClientMetadataError } from '../errors.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import type { RoleService } from '../permissions.ts';
import type { Actor } from '../privilege-ceiling.ts';
import { auditSource, changedFields, NO_REQUEST, type RequestContext } from '../request-context.ts';
import type { RevocationState } from '../revocation.ts';
import { hashSecret, randomSecret } from '../secrets.ts';
import { createClientAuthentication } from './client-authentication.ts';
import {
  type ClientMetadata,
  type ClientMetadataInput,
  checkClientMetadata,
  permissionScopes,
} from './client-metadata.ts';
import type { ClientDirectory, PresentedClientCredentials, RegisteredClient } from './client-types.ts';

export type { ClientMetadataInput } from './client-metadata.ts';

export interface RegisteredClientWithSecret {
  readonly client: RegisteredClient;
  /** Confidential clients with a secret method: the new secret, shown this once. */
  readonly clientSecret: string | undefined;
}

export interface ClientService extends ClientDirectory {
  authenticate(
    presented: PresentedClientCredentials,
    endpointUrl: string,
    ctx?: RequestContext,
  ): Promise<RegisteredClient>;
  /** Registers a client (InvalidClientMetadataError, PrivilegeEscalationError); writes `client.created`. */
  register(
    actor: Actor,
    input: ClientMetadataInput,
    ctx?: RequestContext,
  ): Promise<RegisteredClientWithSecret>;
  /** Every client, oldest first. */
  list(): Promise<RegisteredClient[]>;
  getOrThrow(clientId: string): Promise<RegisteredClient>;
  /**
   * Changes the given fields; the rest stay. A client's type (public or confidential) cannot
   * change. Writes `client.updated` with the names of the changed fields.
   */
  update(
    actor: Actor,
    clientId: string,
    changes: ClientMetadataInput,
    ctx?: RequestContext,
  ): Promise<RegisteredClient>;
  /** Removes the client and ends every session it holds refresh tokens of; writes `client.deleted`. */
  remove(actor: Actor, clientId: string, ctx?: RequestContext): Promise<void>;
  /**
   * A new secret, shown once; the previous ones keep working for the overlap window
   * (GATEHOUSE_CLIENT_SECRET_OVERLAP). Writes `client.secret_rotated`.
   */
  rotateSecret(
    actor: Actor,
    clientId: string,
    ctx?: RequestContext,
  ): Promise<{ client: RegisteredClient; clientSecret: string; previousSecretsExpireAt: number }>;
}

export interface ClientServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly roles: RoleService;
  readonly revocation: RevocationState;
  readonly throttle: LoginThrottle;
  readonly options: {
    /** The server's issuer: an accepted `aud` of `private_key_jwt` assertions. */
    readonly issuer: string;
    readonly secretOverlapSeconds: number;
  };
}

function toRegistered(record: ClientRecord): RegisteredClient {
  const { updatedAt: _updatedAt, ...client } = record;
  return {
    ...client,
    type: record.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential',
  } as RegisteredClient;
}

const usesSecret = (metadata: ClientMetadata) =>
  metadata.tokenEndpointAuthMethod === 'client_secret_basic' ||
  metadata.tokenEndpointAuthMethod === 'client_secret_post';

/** The metadata a client has, as input to change it with. */
function asInput(client: RegisteredClient): ClientMetadataInput {
  return { ...client, scope: client.scopes.join(' ') };
}

export function createClientService(deps: ClientServiceDeps): ClientService {
  const { store, clock, roles, revocation } = deps;
  const db = store.db;
  const withActor = (actor: Actor, ctx: RequestContext): RequestContext =>
    actor.kind === 'user' && !ctx.actorId ? { ...ctx, actorId: actor.userId } : ctx;

  const find = async (clientId: string) => {
    const record = await findClient(db, clientId);
    return record === undefined ? undefined : toRegistered(record);
  };
  const getOrThrow = async (clientId: string) => {
    const client = await find(clientId);
    if (client === undefined) throw new ClientNotFoundError();
    return client;
  };

  async function addSecret(executor: typeof db, clientId: string, now: number): Promise<string> {
    const secret = randomSecret();
    await insertClientSecret(executor, {
      id: randomSecret(16),
      clientId,
      secretHash: hashSecret(secret),
      createdAt: now,
      expiresAt: null,
    });
    return secret;
  }

  const authenticate = createClientAuthentication({
    store,
    clock,
    throttle: deps.throttle,
    issuer: deps.options.issuer,
    findClient: find,
    secretHashesOf: async (clientId) =>
      (await listLiveClientSecrets(db, clientId, clock.now())).map((secret) => secret.secretHash),
  });

  return {
    find,
    authenticate,
    getOrThrow,
    list: async () => (await listClients(db)).map(toRegistered),

    async register(actor, input, ctx = NO_REQUEST) {
      const metadata = checkClientMetadata(input);
      roles.ceiling.checkPermissions(actor, permissionScopes(metadata.scopes));
      const now = clock.now();
      const record: ClientRecord = {
        ...metadata,
        clientId: randomBytes(16).toString('hex'),
        createdAt: now,
        updatedAt: now,
      };
      const clientSecret = await db.transaction().execute(async (trx) => {
        await insertClient(trx, record);
        const secret = usesSecret(metadata) ? await addSecret(trx, record.clientId, now) : undefined;
        await recordAuditEvent(trx, {
          event: 'client.created',
          at: now,
          target: record.clientId,
          ...auditSource(withActor(actor, ctx)),
          details: {
            token_endpoint_auth_method: metadata.tokenEndpointAuthMethod,
            grant_types: metadata.grantTypes,
            scopes: metadata.scopes,
          },
        });
        return secret;
      });
      return { client: toRegistered(record), clientSecret };
    },

    async update(actor, clientId, changes, ctx = NO_REQUEST) {
      const current = await getOrThrow(clientId);
      const defined = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
      const metadata = checkClientMetadata({ ...asInput(current), ...defined });
      if ((metadata.tokenEndpointAuthMethod === 'none') !== (current.type === 'public')) {
        throw new InvalidClientMetadataError(
          'invalid_client_metadata',
          'token_endpoint_auth_method: a client cannot change between public and confidential; register a new client',
        );
      }
      roles.ceiling.checkPermissions(actor, permissionScopes([...current.scopes, ...metadata.scopes]));
      const now = clock.now();
      const record: ClientRecord = { ...metadata, clientId, createdAt: current.createdAt, updatedAt: now };
      // Named as RFC 7591 names them (`redirect_uris`, `scope`), as the admin API shows them.
      const fields = changedFields(current, metadata).map((name) =>
        name === 'scopes' ? 'scope' : name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      );
      await db.transaction().execute(async (trx) => {
        if (!(await updateClient(trx, record))) throw new ClientNotFoundError();
        await recordAuditEvent(trx, {
          event: 'client.updated',
          at: now,
          target: clientId,
          ...auditSource(withActor(actor, ctx)),
          details: { fields },
        });
      });
      return toRegistered(record);
    },

    async remove(actor, clientId, ctx = NO_REQUEST) {
      const current = await getOrThrow(clientId);
      roles.ceiling.checkPermissions(actor, permissionScopes(current.scopes));
      const now = clock.now();
      const revoked = await db.transaction().execute(async (trx) => {
        const sessionIds = await listClientSessionIds(trx, clientId);
        const ids = await revokeSessions(trx, { ids: sessionIds }, now, 'client deleted');
        if (!(await deleteClient(trx, clientId))) throw new ClientNotFoundError();
        await recordAuditEvent(trx, {
          event: 'client.deleted',
          at: now,
          target: clientId,
          ...auditSource(withActor(actor, ctx)),
          details: { sessions_revoked: ids.length },
        });
        return ids;
      });
      revocation.markSessionsRevoked(revoked, now);
    },

    async rotateSecret(actor, clientId, ctx = NO_REQUEST) {
      const client = await getOrThrow(clientId);
      if (client.type === 'public') {
        throw new InvalidClientMetadataError('invalid_client_metadata', 'a public client has no secret');
      }
      roles.ceiling.checkPermissions(actor, permissionScopes(client.scopes));
      const now = clock.now();
      const previousSecretsExpireAt = now + deps.options.secretOverlapSeconds * 1000;
      const clientSecret = await db.transaction().execute(async (trx) => {
        await expireClientSecrets(trx, clientId, previousSecretsExpireAt, now);
        const secret = await addSecret(trx, clientId, now);
        await recordAuditEvent(trx, {
          event: 'client.secret_rotated',
          at: now,
          target: clientId,
          ...auditSource(withActor(actor, ctx)),
          details: { previous_secrets_expire_at: new Date(previousSecretsExpireAt).toISOString() },
        });
        return secret;
      });
      return { client, clientSecret, previousSecretsExpireAt };
    },
  };
}
