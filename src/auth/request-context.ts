/**
 * Who asks for a change and from where. Every service that changes state takes one and writes it
 * into the audit event of the change, so the HTTP API, the CLI and an embedding app's own calls
 * leave the same trail.
 */
export interface RequestContext {
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** The signed-in user who asked; null or absent when anonymous (sign-up, emailed links, login). */
  readonly actorId?: string | null;
}

/** A call made outside any request (an embedding app's code or a test) that names no one. */
export const NO_REQUEST: RequestContext = { ip: null, userAgent: null, actorId: null };

/** The operator at the `gatehouse` command line: no account, no address. */
export const CLI_REQUEST: RequestContext = { ip: null, userAgent: 'gatehouse-cli', actorId: null };

/** The audit columns a context fills. */
export function auditSource(ctx: RequestContext): {
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
} {
  return { actorId: ctx.actorId ?? null, ip: ctx.ip, userAgent: ctx.userAgent };
}

/** The names of the fields whose value differs between `before` and `after` (for `details.fields`). */
export function changedFields<T extends object>(before: T, after: Partial<T>): string[] {
  return (Object.keys(after) as (keyof T & string)[])
    .filter((key) => after[key] !== undefined && JSON.stringify(after[key]) !== JSON.stringify(before[key]))
    .sort();
}
