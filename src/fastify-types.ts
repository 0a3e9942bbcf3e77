/**
 * What Gatehouse adds to Fastify's types: `app.gatehouse`, `request.principal` and the route
 * config Gatehouse reads, all under its own `config.gatehouse` key so it never meets another
 * plugin's (`@fastify/rate-limit` reads `config.rateLimit`). The public entry imports this module,
 * so the augmentation ships in the package's declarations.
 */
import type { RateLimitedRoute } from './auth/rate-limits.ts';
import type { GatehouseServices } from './gatehouse.ts';
import type { Guards, Principal } from './http/guards.ts';
import type { FormPost, HtmlForm } from './http/pages/html-form.ts';

/** `app.gatehouse`: the services and the guards for the host app's own routes. */
export interface GatehouseDecorator {
  /** The public services (never the store, key ring or password hasher). */
  readonly services: GatehouseServices;
  readonly guards: Guards;
  /** Where Gatehouse's routes are mounted (`''` or a `prefix` such as `/auth`). */
  readonly basePath: string;
}

/** `config: { gatehouse: { … } }` on a route. */
export interface GatehouseRouteConfig {
  /** Failures are answered with RFC 6749 §5.2 fields as well as `detail`. */
  readonly oauthErrors?: boolean;
  /** The response carries credentials: `Cache-Control: no-store`. */
  readonly noStore?: boolean;
  /** Counted against this per-IP limit (`GATEHOUSE_RATE_LIMIT_*`) before anything else runs. */
  readonly rateLimit?: RateLimitedRoute;
  /** This route also serves an HTML form (see src/http/pages/html-form.ts). */
  readonly htmlForm?: HtmlForm | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    gatehouse: GatehouseDecorator;
  }
  interface FastifyContextConfig {
    gatehouse?: GatehouseRouteConfig;
  }
  interface FastifyRequest {
    /** Who is calling, set by Gatehouse's guards; `null` when anonymous or unguarded. */
    principal: Principal | null;
    /** Set for HTML form posts to routes with `config.gatehouse.htmlForm`. */
    formPost: FormPost | null;
    /** A cookie session's CSRF token, to be found in the form's `csrf_token` field. */
    formCsrfExpected: string | null;
  }
}
