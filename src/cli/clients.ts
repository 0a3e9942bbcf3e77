/**
 * `gatehouse clients add|list|rotate-secret|remove`: the clients registry at the command line,
 * through the same service as the admin API, acting as the operator (no privilege ceiling).
 */
import { clientMetadataJson } from '../auth/oidc/client-metadata.ts';
import { operatorActor } from '../auth/privilege-ceiling.ts';
import { CLI_REQUEST } from '../auth/request-context.ts';
import { UsageError } from './arguments.ts';
import { type Command, text, texts, withGatehouse } from './command.ts';

const CLI = operatorActor('cli');
const many = { type: 'string', multiple: true } as const;

/** Prints the secret apart from the metadata, so it is seen to be shown once. */
function printSecret(secret: string): void {
  console.log(`client_secret: ${secret}`);
  console.log('(shown once: store it now; only a hash is kept)');
}

export const CLIENT_COMMANDS: Readonly<Record<string, Command>> = {
  'clients add': {
    options: {
      name: { type: 'string' },
      'redirect-uri': many,
      'post-logout-redirect-uri': many,
      'grant-type': many,
      scope: { type: 'string' },
      public: { type: 'boolean' },
      'auth-method': { type: 'string' },
      'jwks-uri': { type: 'string' },
      'id-token-alg': { type: 'string' },
      'backchannel-logout-uri': { type: 'string' },
      'require-par': { type: 'boolean' },
      'skip-consent': { type: 'boolean' },
      audience: { type: 'string' },
      json: { type: 'boolean' },
    },
    positionals: 0,
    createsDatabase: false,
    run: async (config, values) => {
      const name = text(values.name);
      if (!name) throw new UsageError('needs --name', 'clients add');
      const method = text(values['auth-method']);
      if (values.public === true && method !== undefined && method !== 'none') {
        throw new UsageError('--public is --auth-method none; give one of them', 'clients add');
      }
      await withGatehouse(config, async (g) => {
        const { client, clientSecret } = await g.clients.register(
          CLI,
          {
            clientName: name,
            redirectUris: texts(values['redirect-uri']),
            postLogoutRedirectUris: texts(values['post-logout-redirect-uri']),
            grantTypes: texts(values['grant-type']),
            scope: text(values.scope),
            tokenEndpointAuthMethod: values.public === true ? 'none' : method,
            jwksUri: text(values['jwks-uri']),
            idTokenSignedResponseAlg: text(values['id-token-alg']),
            backchannelLogoutUri: text(values['backchannel-logout-uri']),
            requirePushedAuthorizationRequests: values['require-par'] === true,
            skipConsent: values['skip-consent'] === true,
            audience: text(values.audience),
          },
          CLI_REQUEST,
        );
        if (values.json === true) {
          const secret =
            clientSecret === undefined ? {} : { client_secret: clientSecret, client_secret_expires_at: 0 };
          console.log(JSON.stringify({ ...clientMetadataJson(client), ...secret }));
          return;
        }
        console.log(`client_id: ${client.clientId}`);
        if (clientSecret !== undefined) printSecret(clientSecret);
        else console.log(`(${client.type} client: no secret)`);
      });
      return 0;
    },
  },
  'clients list': {
    positionals: 0,
    createsDatabase: false,
    run: async (config) => {
      await withGatehouse(config, async (g) => {
        for (const client of await g.clients.list()) console.log(JSON.stringify(clientMetadataJson(client)));
      });
      return 0;
    },
  },
  'clients rotate-secret': {
    options: { json: { type: 'boolean' } },
    positionals: 1,
    createsDatabase: false,
    run: async (config, values, [clientId]) => {
      await withGatehouse(config, async (g) => {
        const rotated = await g.clients.rotateSecret(CLI, clientId ?? '', CLI_REQUEST);
        const until = new Date(rotated.previousSecretsExpireAt).toISOString();
        if (values.json === true) {
          console.log(
            JSON.stringify({
              client_id: rotated.client.clientId,
              client_secret: rotated.clientSecret,
              client_secret_expires_at: 0,
              previous_secrets_expire_at: Math.floor(rotated.previousSecretsExpireAt / 1000),
            }),
          );
          return;
        }
        console.log(`client_id: ${rotated.client.clientId}`);
        printSecret(rotated.clientSecret);
        console.log(`the previous secret works until ${until}`);
      });
      return 0;
    },
  },
  'clients remove': {
    positionals: 1,
    createsDatabase: false,
    run: async (config, _values, [clientId]) => {
      await withGatehouse(config, async (g) => {
        await g.clients.remove(CLI, clientId ?? '', CLI_REQUEST);
        console.log(`removed ${clientId}; the sessions of its refresh tokens have ended`);
      });
      return 0;
    },
  },
};
