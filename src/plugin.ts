/**
 * The Fastify plugin: Gatehouse's routes and guards inside your own API.
 *
 * @example
 * const gatehouse = await createGatehouse(loadConfig());
 * await app.register(gatehousePlugin, { gatehouse });
 * app.get('/items', { onRequest: app.gatehouse.guards.requireUser }, async (req) => req.principal?.user.id);
 */
import cookie from '@fastify/cookie';
import type { FastifyInstance, onRequestHookHandler, onSendHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { CsrfError, DatabaseUnavailableError } from './auth/errors.ts';
import { startMaintenance } from './auth/maintenance.ts';
import { normalizeBasePath } from './base-path.ts';
import type { Clock } from './clock.ts';
import { configFromOptions, type GatehouseOptions } from './config.ts';
import { createGatehouse, type Gatehouse, publicServices } from './gatehouse.ts';
import { installBodyParsers } from './http/body-parsers.ts';
import { sessionCookie } from './http/cookies.ts';
import { installErrorHandlers, logRefusal, sendRefusal } from './http/errors.ts';
import { checkFormCsrfToken, createGuards, guardSecurityOf } from './http/guards.ts';
import { installLocalhostRedirect } from './http/localhost-redirect.ts';
import { installAuthorizeReturn } from './http/pages/authorize-return.ts';
import { installPageBasePath } from './http/pages/base-path.ts';
import { secondStepForm } from './http/pages/factor-pages.ts';
import { installHtmlForms } from './http/pages/form-hooks.ts';
import { createPageForms, needsReauth, type PageContext } from './http/pages/page-forms.ts';
import { pageRoutes } from './http/pages/routes.ts';
import { clientIp } from './http/request-context.ts';
import { onRoutesWith, prependRouteHook } from './http/route-hooks.ts';
import { adminUserRoutes } from './http/routes/admin-users.ts';
import { apiKeyRoutes } from './http/routes/api-keys.ts';
import { appRoutes } from './http/routes/apps.ts';
import { auditRoutes } from './http/routes/audit.ts';
import { authorizeRoutes } from './http/routes/authorize.ts';
import { clientRoutes } from './http/routes/clients.ts';
import { emailRoutes } from './http/routes/email.ts';
import { endSessionRoutes, relyingPartyLogoutPost } from './http/routes/end-session.ts';
import { factorAccess, factorRoutes } from './http/routes/factors.ts';
import { identityRoutes } from './http/routes/identities.ts';
import { introspectionRoutes } from './http/routes/introspection.ts';
import { loginRoutes } from './http/routes/login.ts';
import { meRoutes } from './http/routes/me.ts';
import { metricsRoutes } from './http/routes/metrics.ts';
import { mfaLoginRoutes } from './http/routes/mfa.ts';
import { flowCookie, oauthRoutes } from './http/routes/oauth.ts';
import { parRoutes } from './http/routes/par.ts';
import { reauthenticateRoutes } from './http/routes/reauthenticate.ts';
import { registerRoutes } from './http/routes/register.ts';
import { roleRoutes } from './http/routes/roles.ts';
import { sessionRoutes } from './http/routes/sessions.ts';
import { tokenRoutes } from './http/routes/token.ts';
import { userInfoRoutes } from './http/routes/userinfo.ts';
import { wellKnownRoutes } from './http/routes/well-known.ts';
import { installValidation } from './http/validation.ts';

export interface GatehousePluginOptions {
  readonly gatehouse: Gatehouse;
  /**
   * Serve `GET /metrics` without a token when `GATEHOUSE_METRICS_TOKEN` is unset, as the
   * standalone server does. An embedded API (often public) serves it only with a token.
   */
  readonly openMetrics?: boolean;
  /**
   * Fastify's `prefix`: Gatehouse's routes, links and metadata URLs under this path (`/auth`).
   * Give `createGatehouse()` the same `basePath`, since mail links are built by the services.
   */
  readonly prefix?: string;
}

async function plugin(app: FastifyInstance, options: GatehousePluginOptions): Promise<void> {
  if (options?.gatehouse?.accounts === undefined) {
    throw new TypeError('gatehousePlugin: option "gatehouse" must be the result of createGatehouse()');
  }
  const { gatehouse } = options;
  const { config } = gatehouse;
  const basePath = normalizeBasePath(`${app.prefix}${normalizeBasePath(options.prefix)}`);
  if (basePath !== gatehouse.basePath) {
    throw new TypeError(
      `gatehousePlugin: mounted at "${basePath || '/'}" but createGatehouse() was given basePath "${gatehouse.basePath || '/'}"; give both the same path`,
    );
  }
  const cookieSettings = sessionCookie(config.issuer, config.sessionTtlSeconds);
  // The public URL is where browsers are when a proxy sits in front (pages' form posts).
  const trustedOrigins = [
    ...new Set([new URL(config.issuer).origin, new URL(config.publicUrl).origin, ...config.corsOrigins]),
  ];
  const guards = createGuards({
    accounts: gatehouse.accounts,
    roles: gatehouse.roles,
    apiKeys: gatehouse.apiKeys,
    tokens: gatehouse.tokens,
    sessions: gatehouse.sessions,
    revocation: gatehouse.revocation,
    cookieName: cookieSettings.name,
    trustedOrigins,
    clock: gatehouse.clock,
    reauthMaxAgeSeconds: config.reauthMaxAgeSeconds,
    hasSecondFactor: (userId) => gatehouse.factors.hasFactor(userId),
  });
  app.decorateRequest('principal', null);
  app.decorateRequest('formCsrfExpected', null);
  // On the host app's context: a cookie form post to any route with `config.htmlForm`, the host
  // app's own included, must carry the session's token (a guard on onRequest left it to compare).
  // Hooks on the host's context are callback-style: a route that Gatehouse does not guard pays
  // a function call, not a promise.
  app.addHook('preValidation', (request, reply, done) => {
    try {
      checkFormCsrfToken(request);
    } catch (error) {
      if (!(error instanceof CsrfError)) return done(error as Error);
      logRefusal(request, error);
      // Replying from a callback hook: the chain stops, `done` is not called.
      sendRefusal(error, request, reply).catch(done);
      return;
    }
    done();
  });
  // Routes guarded by Gatehouse guards declare it in OpenAPI, so /docs shows each route's scopes.
  app.addHook('onRoute', (route) => {
    const security = guardSecurityOf([route.onRequest, route.preValidation, route.preHandler].flat());
    if (security === undefined) return;
    route.schema = { ...route.schema };
    if ((route.schema as { security?: unknown }).security === undefined) {
      (route.schema as { security?: unknown }).security = security;
    }
  });
  app.decorate('gatehouse', { services: publicServices(gatehouse), guards, basePath });
  gatehouse.mail.useLogger(app.log);
  if (config.metrics === 'on') {
    // On the host app's context, so its own routes are counted too, by route pattern.
    const { metrics } = gatehouse;
    app.addHook('onResponse', (request, reply, done) => {
      metrics.observeRequest(
        request.method,
        request.routeOptions.url,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });
  }
  if (gatehouse.redis?.isHealthy() === false) {
    app.log.warn('Redis unavailable at start: revocations are checked in the database until it answers');
  }
  gatehouse.redis?.onHealthChange((healthy) => {
    if (healthy) app.log.info('Redis reachable again: shared rate limits and revocations resumed');
    else
      app.log.warn(
        'Redis unavailable: rate limits fall back to per-process memory and revocations are checked in the database until it returns',
      );
  });

  // Gatehouse's own routes in their own context: the host app may register @fastify/cookie,
  // @fastify/formbody and the like before or after Gatehouse without meeting its copies.
  const routes = async (scope: FastifyInstance) => {
    // Inside this context only, unless the host app registered it already (guards read the
    // session cookie from the header on the host's routes when it did not).
    if (!scope.hasReplyDecorator('setCookie')) await scope.register(cookie);
    installBodyParsers(scope);
    installValidation(scope);
    installErrorHandlers(scope);
    installHtmlForms(scope, trustedOrigins);
    installPageBasePath(scope, basePath);
    // Only on the routes that ask for them (see http/route-hooks.ts).
    onRoutesWith(scope, 'rateLimit', (route, limited) => {
      const consume: onRequestHookHandler = (request, _reply, done) => {
        gatehouse.rateLimits.consume(limited, clientIp(request)).then(() => done(), done);
      };
      prependRouteHook(route, 'onRequest', consume);
    });
    onRoutesWith(scope, 'noStore', (route) => {
      const noStore: onSendHookHandler = (_request, reply, payload, done) => {
        reply.header('cache-control', 'no-store');
        reply.header('pragma', 'no-cache');
        done(null, payload);
      };
      prependRouteHook(route, 'onSend', noStore);
    });
    const {
      accounts,
      sessions,
      emailFlows,
      externalSignIn,
      userAdmin,
      roles,
      apiKeys,
      audit,
      clock,
      factors,
    } = gatehouse;
    const pages: PageContext = {
      sessions,
      accounts,
      emailFlows,
      externalSignIn,
      basePath,
      settings: {
        appName: config.appName,
        passwordMinLength: config.passwordMinLength,
        registrationOpen: config.registration === 'open',
        providers: externalSignIn.providers(),
      },
      needsReauth: (authTimeMs) => needsReauth(authTimeMs, config.reauthMaxAgeSeconds, clock.now()),
      factors,
      clientName: (clientId) => gatehouse.oidc.clientName(clientId),
      listApps: (userId) => gatehouse.oidc.listApps(userId),
    };
    const mfaPages = config.pages ? { factors, settings: pages.settings, basePath } : undefined;
    const forms = config.pages ? createPageForms(pages) : undefined;
    const { isClientRedirectUri } = gatehouse.oidc;
    if (forms !== undefined) installAuthorizeReturn(scope, { basePath, isClientRedirectUri });
    await scope.register(registerRoutes, {
      accounts,
      registrationOpen: config.registration === 'open',
      forms,
    });
    const { oidc } = gatehouse;
    await scope.register(tokenRoutes, { sessions, emailFlows, factors, externalSignIn, oidc });
    await scope.register(meRoutes, { guards });
    await scope.register(loginRoutes, { sessions, cookie: cookieSettings, trustedOrigins, forms, mfaPages });
    await scope.register(sessionRoutes, {
      ...{ sessions, guards, cookie: cookieSettings, forms },
      relyingPartyLogout: forms && relyingPartyLogoutPost(basePath, cookieSettings),
    });
    await scope.register(reauthenticateRoutes, { sessions, accounts, factors, guards, forms });
    await scope.register(adminUserRoutes, { userAdmin, accounts, externalSignIn, guards });
    await scope.register(roleRoutes, { roles, guards });
    await scope.register(auditRoutes, { audit, guards });
    await scope.register(clientRoutes, { clients: gatehouse.clients, guards });
    await scope.register(appRoutes, { oidc, guards, basePath, forms });
    await scope.register(introspectionRoutes, {
      tokenIntrospection: gatehouse.tokenIntrospection,
      baseUrl: `${config.issuer.replace(/\/+$/, '')}${basePath}`,
    });
    await scope.register(apiKeyRoutes, {
      apiKeys,
      guards,
      apiKeyTtlSeconds: config.apiKeyTtlSeconds,
      apiKeyMaxTtlSeconds: config.apiKeyMaxTtlSeconds,
    });
    await scope.register(wellKnownRoutes, {
      keys: gatehouse.keySet,
      openIdProvider: config.pages,
      roles,
      issuer: config.issuer,
      basePath,
      jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    });
    await scope.register(emailRoutes, { emailFlows, userAdmin, accounts, guards, forms });
    await scope.register(factorRoutes, {
      factors,
      accounts,
      guards,
      access: factorAccess({ factors, clock }, guards),
    });
    await scope.register(mfaLoginRoutes, {
      sessions,
      factors,
      cookie: cookieSettings,
      trustedOrigins,
      form: mfaPages === undefined ? undefined : secondStepForm(mfaPages),
    });
    const oauthCookie = flowCookie(config.issuer);
    await scope.register(oauthRoutes, {
      externalSignIn,
      basePath,
      pages: config.pages,
      appName: config.appName,
      cookie: cookieSettings,
      flowCookie: oauthCookie,
      mfaPages,
    });
    await scope.register(identityRoutes, {
      externalSignIn,
      basePath,
      guards,
      flowCookie: oauthCookie,
      forms,
    });
    if (forms !== undefined) {
      await scope.register(async (pageScope) => {
        installLocalhostRedirect(pageScope, config.publicUrl);
        await pageScope.register(pageRoutes, { ...pages, guards, cookie: cookieSettings, forms });
      });
      // The OpenID Provider signs people in and asks for consent on the hosted pages.
      await scope.register(authorizeRoutes, { oidc, guards, basePath, appName: config.appName });
      await scope.register(parRoutes, { oidc });
      const logoutOptions = { oidc, guards, cookie: cookieSettings, basePath, appName: config.appName };
      await scope.register(endSessionRoutes, logoutOptions);
      await scope.register(userInfoRoutes, { oidc });
    }
    if (config.metrics === 'on' && (config.metricsToken !== undefined || options.openMetrics === true)) {
      await scope.register(metricsRoutes, { metrics: gatehouse.metrics, token: config.metricsToken });
    }
  };
  await app.register(routes, basePath === app.prefix ? {} : { prefix: basePath.slice(app.prefix.length) });
}

export const gatehousePlugin = fp(plugin, { name: 'gatehouse', fastify: '5.x' });

export interface GatehouseFromOptions extends GatehouseOptions {
  /** Time source (tests); default the system clock. */
  readonly clock?: Clock | undefined;
  /** Fastify's `prefix`: mount Gatehouse's routes, links and metadata URLs under this path. */
  readonly prefix?: string | undefined;
}

/**
 * Gatehouse inside your own Fastify app, configured by options instead of environment
 * variables: every Gatehouse route and `app.gatehouse.guards` for yours.
 *
 * @example
 * import Fastify from 'fastify';
 * import { gatehouse } from 'gatehouse';
 *
 * const app = Fastify();
 * await app.register(gatehouse, { databaseUrl: 'sqlite:./data/app.db', issuer: 'https://api.example.com' });
 * app.get('/items', { onRequest: app.gatehouse.guards.requireScopes('items:read') }, async (req) => …);
 */
export const gatehouse = fp(
  async (app: FastifyInstance, options: GatehouseFromOptions) => {
    const { clock, prefix, ...settings } = options ?? {};
    const basePath = normalizeBasePath(`${app.prefix}${normalizeBasePath(prefix)}`);
    const services = await createGatehouse(configFromOptions(settings), {
      basePath,
      ...(clock ? { clock } : {}),
      // Through the host app's logger, as everything else Gatehouse logs.
      onBackgroundError: (error) => {
        if (error instanceof DatabaseUnavailableError)
          app.log.warn({ reason: error.reason }, 'gatehouse background work skipped: database unavailable');
        else app.log.error({ err: error }, 'gatehouse background work failed');
      },
    });
    // As `gatehouse serve` does: rotate the signing key when due and pick up keys and roles
    // changed by another process, at start and every minute.
    const maintenance = await startMaintenance(services.runMaintenance, app.log);
    app.addHook('onClose', async () => {
      maintenance.stop();
      await services.close();
    });
    await app.register(gatehousePlugin, { gatehouse: services, ...(prefix ? { prefix } : {}) });
    services.mail.start();
  },
  { name: 'gatehouse-from-options', fastify: '5.x' },
);
