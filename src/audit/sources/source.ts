// What every audit source of a target reports about itself, served at /api/dpmon/audit/sources:
// whether it can read (and if not, why, in a sentence with what would fix it), when it last read,
// and where it is (a log file and offset, the last DDL row id).
import type { AuditLog } from '../audit-log.ts';

export type AuditSourceName = 'server_log' | 'ddl_trigger' | 'catalog_snapshot';

export interface AuditSourceStatus {
  readonly target: string;
  readonly source: AuditSourceName;
  readonly state: 'available' | 'unavailable';
  readonly reason?: string;
  /** epoch ms of the last successful read */
  readonly lastReadAt?: number;
  readonly position?: Readonly<Record<string, string | number>>;
}

/** Where sources record their events: the audit log's append (the trail branch batches it). */
export type AuditSink = Pick<AuditLog, 'append'>;

export type SourceQuery = (sql: string) => Promise<Record<string, unknown>[]>;

export interface AuditSource {
  readonly name: AuditSourceName;
  /** reads what is new; throws only when the target cannot be reached */
  poll(query: SourceQuery, now: number): Promise<void>;
  status(): AuditSourceStatus;
}
