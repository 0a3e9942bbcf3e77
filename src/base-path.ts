/** The path the routes are mounted at (the plugin's `prefix`). */

/** `''` or `/a/b`: one leading slash, none trailing. A malformed one is a developer's mistake. */
export function normalizeBasePath(path: string | undefined): string {
  if (path === undefined || path === '' || path === '/') return '';
  if (typeof path !== 'string' || !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+\/?$/.test(path)) {
    throw new TypeError(`gatehouse: prefix "${String(path)}" must be a path such as /auth`);
  }
  return path.replace(/\/$/, '');
}
