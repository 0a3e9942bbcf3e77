/** The standalone server: the plugin plus docs, security headers, CORS and health routes. */
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import pinoPretty from 'pino-pretty';
import { BUILTIN_PERMISSIONS } from './auth/permissions.ts';
import type { Config } from './config.ts';
import type { Gatehouse } from './gatehouse.ts';
import { installBodyParsers } from './http/body-parsers.ts';
import { sessionCookie } from './http/cookies.ts';
import { installErrorHandlers, installNotFoundHandler } from './http/errors.ts';
import { docsRoutes } from './http/routes/docs.ts';
import { rootRoutes } from './http/routes/root.ts';
import { installSecurityHeaders } from './http/security-headers.ts';
import { installValidation } from './http/validation.ts';
import { type LogFile, openLogFile } from './observability/log-file.ts';
import { gatehousePlugin } from './plugin.ts';

export const BODY_LIMIT_BYTES = 16 * 1024;

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  'profile:read': 'Read your profile',
  'profile:write': 'Change your profile',
  'users:read': 'Read users',
  'users:write': 'Create, change and delete users',
  'roles:read': 'Read roles',
  'roles:write': 'Create, change and delete roles',
  'sessions:revoke': "Revoke other users' sessions",
  'audit:read': 'Read the audit log',
  'apikeys:write': 'Create and revoke API keys',
  'clients:read': "Read the OpenID Provider's clients",
  'clients:write': 'Register, change and remove clients and rotate their secrets',
};

/** Log redaction: credentials never reach the logs, whatever a serializer adds. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'password',
  'access_token',
  'token',
];

/** Emailed links carry their one-time token in the query; the request log keeps it out. */
export function redactUrlSecrets(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]');
}

/** Fastify's request log fields, with emailed tokens taken out of the URL. */
function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrlSecrets(request.url),
    version: request.headers?.['accept-version']?.toString(),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** `auto` is `pretty` for a person at a terminal and `json` for everything else. */
export function resolveLogFormat(format: Config['logFormat'], toTerminal: boolean): 'pretty' | 'json' {
  return format === 'auto' ? (toTerminal ? 'pretty' : 'json') : format;
}

function logDestination(
  config: Config,
  logStream: NodeJS.WritableStream | undefined,
): { stream: NodeJS.WritableStream } | { stream: LogFile; logFile: LogFile } | Record<string, never> {
  const toTerminal = logStream === undefined && config.logFile === undefined && process.stdout.isTTY === true;
  if (resolveLogFormat(config.logFormat, toTerminal) === 'pretty') {
    const stream = pinoPretty({
      destination: logStream ?? config.logFile ?? 1,
      colorize: toTerminal,
      sync: true,
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss.l',
    });
    return { stream };
  }
  if (logStream) return { stream: logStream };
  if (config.logFile === undefined) return {};
  const logFile = openLogFile(config.logFile);
  return { stream: logFile, logFile };
}

export interface BuildServerOptions {
  /** A pino destination stream for tests; otherwise the config's file or stdout. */
  readonly logStream?: NodeJS.WritableStream;
}

export async function buildServer(
  gatehouse: Gatehouse,
  options: BuildServerOptions = {},
): Promise<FastifyInstance> {
  const { config } = gatehouse;
  const destination = logDestination(config, options.logStream);
  const logger = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest },
    ...('stream' in destination ? { stream: destination.stream } : {}),
  };
  const app = Fastify({
    logger,
    // request.ip is the socket address unless the operator names the proxies to believe.
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Errors raised before routing (a malformed URL, an unsupported media type for the router)
    // bypass the error handler; give them the same `{"detail": …}` shape.
    frameworkErrors: (error, _request, reply) => {
      const status =
        error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      const detail = error.code === 'FST_ERR_BAD_URL' ? 'Malformed URL' : 'Bad request';
      (reply as FastifyReply).code(status).send({ detail });
    },
  });
  if ('logFile' in destination) {
    const { logFile } = destination;
    app.addHook('onClose', async () => logFile.close());
  }
  installBodyParsers(app);
  installValidation(app);
  installErrorHandlers(app);
  installNotFoundHandler(app);

  installSecurityHeaders(app, { hsts: config.issuer.startsWith('https:') });
  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: [...config.corsOrigins], credentials: true });
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse',
        version: '0.1.0',
        description:
          'Authentication and authorization for APIs. Authorize with a username and password to try the routes.',
      },
      components: {
        securitySchemes: {
          OAuth2PasswordBearer: {
            type: 'oauth2',
            flows: {
              password: {
                tokenUrl: '/token',
                scopes: Object.fromEntries(BUILTIN_PERMISSIONS.map((p) => [p, SCOPE_DESCRIPTIONS[p] ?? p])),
              },
            },
          },
          HTTPBasic: { type: 'http', scheme: 'basic' },
          APIKeyHeader: {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: 'An API key from `POST /api-keys` (also accepted as `Authorization: Bearer gh_…`).',
          },
          SessionCookie: {
            type: 'apiKey',
            in: 'cookie',
            name: sessionCookie(config.issuer, config.sessionTtlSeconds).name,
            description:
              'The browser session from `POST /login`; state-changing requests also need `X-CSRF-Token`.',
          },
        },
      },
    },
  });
  await app.register(gatehousePlugin, { gatehouse, openMetrics: true });
  await app.register(rootRoutes, { store: gatehouse.store });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: false, tryItOutEnabled: false },
  });
  await app.register(docsRoutes);
  return app;
}
