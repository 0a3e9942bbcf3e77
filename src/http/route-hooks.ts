/**
 * Hooks that only some routes need (a rate limit, `no-store`, the HTML form handling) are given
 * to those routes when they are declared (`onRoute`), ahead of the route's own hooks, instead of
 * running for every request of the context to read the route's config and return: a whoami or
 * a host app's route then runs none of them (each read of `request.routeOptions` also builds
 * an object).
 */
import type { FastifyContextConfig, FastifyInstance, RouteOptions } from 'fastify';

type GatehouseRouteConfig = NonNullable<FastifyContextConfig['gatehouse']>;

type HookName = 'onRequest' | 'preValidation' | 'onSend';

/** Puts `hook` before the hooks the route declares itself (a new array: HEAD routes share the old). */
export function prependRouteHook(route: RouteOptions, name: HookName, hook: unknown): void {
  const own: unknown = route[name];
  const hooks = own === undefined || own === null ? [] : Array.isArray(own) ? own : [own];
  (route as Record<HookName, unknown>)[name] = [hook, ...hooks];
}

/** Calls `install` for every route declared in `scope` from now on whose Gatehouse config has `key`. */
export function onRoutesWith<K extends keyof GatehouseRouteConfig>(
  scope: FastifyInstance,
  key: K,
  install: (route: RouteOptions, value: NonNullable<GatehouseRouteConfig[K]>) => void,
): void {
  scope.addHook('onRoute', (route) => {
    const value = (route.config as FastifyContextConfig | undefined)?.gatehouse?.[key];
    if (value !== undefined && value !== null && value !== false) install(route, value);
  });
}
