import type { FastifyInstance } from 'fastify';

// ReDoc is loaded from its CDN, as FastAPI does; the page's CSP allows exactly that script.
const REDOC_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatehouse — ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="https://cdn.redoc.ly/redoc/v2.5.1/bundles/redoc.standalone.js"></script></body></html>`;

export async function docsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/redoc', { schema: { hide: true } }, async (_request, reply) => {
    reply
      .header(
        'content-security-policy',
        "default-src 'self'; script-src 'self' https://cdn.redoc.ly; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; worker-src blob:; connect-src 'self'; frame-ancestors 'none'",
      )
      .type('text/html; charset=utf-8');
    return REDOC_HTML;
  });
}
