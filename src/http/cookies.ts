/**
 * The browser session cookie. `__Host-` requires `Secure`, which browsers refuse on plain http
 * except for localhost; so a plain-http localhost issuer (development) uses the unprefixed name
 * without `Secure`, and every other issuer gets `__Host-gatehouse_session; Secure`.
 */
import { createHmac } from 'node:crypto';
import { type CookieSerializeOptions, fastifyCookie } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SessionCookie {
  readonly name: string;
  readonly options: CookieSerializeOptions;
}

export function isPlainHttpLocalhost(issuer: string): boolean {
  const url = new URL(issuer);
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

export function sessionCookie(issuer: string, maxAgeSeconds: number): SessionCookie {
  const secure = !isPlainHttpLocalhost(issuer);
  return {
    name: secure ? '__Host-gatehouse_session' : 'gatehouse_session',
    options: { httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge: maxAgeSeconds },
  };
}

/**
 * The per-session CSRF token: derived from the cookie's secret, so it needs no storage and only
 * a holder of the cookie (the browser's own pages, via /login or GET /session) can learn it.
 */
export function csrfTokenFor(cookieValue: string): string {
  return createHmac('sha256', cookieValue).update('gatehouse csrf v1').digest('base64url');
}

/** Removes the session cookie from the browser (its attributes must match the ones it was set with). */
export function clearSessionCookie(reply: FastifyReply, cookie: SessionCookie): void {
  reply.clearCookie(cookie.name, {
    path: '/',
    secure: cookie.options.secure ?? false,
    httpOnly: true,
    sameSite: 'lax',
  });
}

/**
 * A cookie's value: parsed by @fastify/cookie when the route's context has it, from the header
 * otherwise (a host app's route when the host did not register @fastify/cookie itself).
 */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const parsed = (request.cookies as Record<string, string | undefined> | undefined)?.[name];
  if (parsed !== undefined) return parsed;
  const header = request.headers.cookie;
  return header === undefined ? undefined : fastifyCookie.parse(header)[name];
}
