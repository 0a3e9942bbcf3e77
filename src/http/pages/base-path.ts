/**
 * Pages mounted under a prefix (`register(gatehouse, { prefix: '/auth' })`). The page templates
 * write Gatehouse's own paths from the root (`href="/login"`, `action="/register"`); under a
 * prefix each of those is rewritten once, here, as the page is sent. Attribute values are always
 * escaped, so no user text can form `href="/`: only the templates' own links are touched.
 */
import type { FastifyInstance } from 'fastify';

const ROOT_LINK = /\b(href|action)="\/(?!\/)/g;

export function withBasePath(page: string, basePath: string): string {
  return basePath === '' ? page : page.replace(ROOT_LINK, `$1="${basePath}/`);
}

export function installPageBasePath(scope: FastifyInstance, basePath: string): void {
  if (basePath === '') return;
  scope.addHook('onSend', async (_request, reply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof payload !== 'string' || typeof type !== 'string' || !type.startsWith('text/html')) {
      return payload;
    }
    return withBasePath(payload, basePath);
  });
}
