/**
 * The same protected API built with each adapter on a real framework app: Fastify 5, Express 5,
 * Hono 4. Routes: /hello (any user), /profile (scope profile:read), /reports (scope reports:read),
 * /report-permission (permission reports:read), /pro (role pro), /mfa (a recent sign-in with two
 * factors), /maybe (optional user).
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { expressGuards } from '../../packages/verify/src/express.ts';
import { fastifyGuards } from '../../packages/verify/src/fastify.ts';
import { honoGuards } from '../../packages/verify/src/hono.ts';
import type { Verifier } from '../../packages/verify/src/index.ts';
import { type Answer, answerOfInjected } from './issuer.ts';

export interface AdapterApp {
  /** GET `path` with this `Authorization` header (none when undefined). */
  request(path: string, authorization?: string): Promise<Answer>;
  close(): Promise<void>;
}

export interface Adapter {
  readonly name: string;
  build(verifier: Verifier): Promise<AdapterApp>;
}

const answerOf = async (response: Response): Promise<Answer> => ({
  status: response.status,
  wwwAuthenticate: response.headers.get('www-authenticate'),
  contentType: response.headers.get('content-type'),
  body: await response.json(),
});

const headersOf = (authorization: string | undefined): Record<string, string> =>
  authorization === undefined ? {} : { authorization };

export const ADAPTERS: readonly Adapter[] = [
  {
    name: 'Fastify 5 (@gatehouse/verify/fastify)',
    async build(verifier) {
      const guards = fastifyGuards(verifier);
      const app = Fastify();
      const who = async (request: { tokenPrincipal?: { username: string | undefined } | null }) => ({
        user: request.tokenPrincipal?.username ?? null,
      });
      app.get('/hello', { onRequest: guards.requireUser }, who);
      app.get('/profile', { onRequest: guards.requireScopes('profile:read') }, who);
      app.get('/reports', { onRequest: guards.requireScopes('reports:read') }, who);
      app.get('/report-permission', { onRequest: guards.requirePermission('reports:read') }, who);
      app.get('/pro', { onRequest: guards.requireRoles('pro') }, who);
      app.get('/mfa', { onRequest: guards.requireRecentAuth({ maxAge: 300, mfa: true }) }, who);
      app.get('/maybe', { onRequest: guards.optionalUser }, async (request) => ({
        user: request.tokenPrincipal?.username ?? null,
      }));
      await app.ready();
      return {
        async request(path, authorization) {
          return answerOfInjected(
            await app.inject({ method: 'GET', url: path, headers: headersOf(authorization) }),
          );
        },
        close: () => app.close(),
      };
    },
  },
  {
    name: 'Express 5 (@gatehouse/verify/express)',
    async build(verifier) {
      const guards = expressGuards(verifier);
      const app = express();
      const who = (req: express.Request, res: express.Response) => {
        res.json({ user: req.tokenPrincipal?.username ?? null });
      };
      app.get('/hello', guards.requireUser, who);
      app.get('/profile', guards.requireScopes('profile:read'), who);
      app.get('/reports', guards.requireScopes('reports:read'), who);
      app.get('/report-permission', guards.requirePermission('reports:read'), who);
      app.get('/pro', guards.requireRoles('pro'), who);
      app.get('/mfa', guards.requireRecentAuth({ maxAge: 300, mfa: true }), who);
      app.get('/maybe', guards.optionalUser, who);
      const server = await new Promise<ReturnType<typeof app.listen>>((resolve, reject) => {
        const listening = app.listen(0, '127.0.0.1', (error) => (error ? reject(error) : resolve(listening)));
      });
      const { port } = server.address() as AddressInfo;
      return {
        request: async (path, authorization) =>
          answerOf(await fetch(`http://127.0.0.1:${port}${path}`, { headers: headersOf(authorization) })),
        close: () =>
          new Promise<void>((resolve, reject) => {
            server.close((error) => (error ? reject(error) : resolve()));
            server.closeAllConnections();
          }),
      };
    },
  },
  {
    name: 'Hono 4 (@gatehouse/verify/hono)',
    async build(verifier) {
      const guards = honoGuards(verifier);
      const app = new Hono();
      app.get('/hello', guards.requireUser, (c) =>
        c.json({ user: c.get('tokenPrincipal')?.username ?? null }),
      );
      app.get('/profile', guards.requireScopes('profile:read'), (c) =>
        c.json({ user: c.get('tokenPrincipal')?.username ?? null }),
      );
      app.get('/reports', guards.requireScopes('reports:read'), (c) =>
        c.json({ user: c.get('tokenPrincipal')?.username ?? null }),
      );
      app.get('/report-permission', guards.requirePermission('reports:read'), (c) =>
        c.json({ user: c.get('tokenPrincipal')?.username ?? null }),
      );
      app.get('/pro', guards.requireRoles('pro'), (c) =>
        c.json({ user: c.get('tokenPrincipal')?.username ?? null }),
      );
      app.get('/mfa', guards.requireRecentAuth({ maxAge: 300, mfa: true }), (c) =>
        c.json({ user: c.get('tokenPrincipal')?.username ?? null }),
      );
      app.get('/maybe', guards.optionalUser, (c) =>
        c.json({ user: c.get('tokenPrincipal')?.username ?? null }),
      );
      return {
        request: async (path, authorization) =>
          answerOf(
            await app.fetch(new Request(`http://api.test${path}`, { headers: headersOf(authorization) })),
          ),
        close: async () => {},
      };
    },
  },
];
