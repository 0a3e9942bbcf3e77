/** Reading the audit log (`GET /audit`); events are written by each service in its own transaction. */

import { type AuditRecord, listAuditEvents } from '../store/audit.ts';
import type { Store } from '../store/db.ts';

export type { AuditRecord } from '../store/audit.ts';

export interface AuditQuery {
  readonly userId?: string;
  readonly actorId?: string;
  readonly event?: string;
  readonly limit?: number;
  /** Events older than this one (a page cursor). */
  readonly before?: { readonly at: number; readonly id: string };
}

export interface AuditLog {
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditRecord[]>;
}

export function createAuditLog(store: Store): AuditLog {
  return {
    list: (query) => listAuditEvents(store.db, query),
  };
}
