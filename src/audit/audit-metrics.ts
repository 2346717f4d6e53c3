// dpmon_audit_events_total{kind,outcome} and dpmon_audit_auth_failures_total{kind,client}: each event kind
// can feed an alert rule. Both are bounded: kinds past MAX_KINDS count as `other`; client addresses keep a
// series only while among the MAX_CLIENTS seen most recently within CLIENT_IDLE_MS, the rest count as `other`.
import type { Collector } from '../model/collector.ts';
import { counter } from '../model/metric.ts';
import type { AuditInput } from './audit-log.ts';

export const auditEventsTotal = counter('dpmon_audit_events_total', 'Audit events kept, by kind (its first two dotted parts) and outcome.');
export const auditAuthFailuresTotal = counter(
  'dpmon_audit_auth_failures_total',
  'Authentication failures (auth.failure, dpmon.auth_failure) by client address; at most 50 addresses, the rest as client="other".',
);

export const MAX_KINDS = 200;
export const MAX_CLIENTS = 50;
/** an address quiet this long may give its series to a new one */
export const CLIENT_IDLE_MS = 15 * 60_000;

const AUTH_KINDS = new Set(['auth.failure', 'dpmon.auth_failure']);
/** present from the start at 0, so the first failure is an increase a rule sees */
const INITIAL: readonly (readonly [string, string])[] = [
  ['auth.failure', 'failure'],
  ['dpmon.auth_failure', 'denied'],
  ['access.violation', 'denied'],
  ['connection.refused', 'failure'],
];

export interface AuditMetrics {
  observe(e: Pick<AuditInput, 'kind' | 'outcome' | 'client'>): void;
  readonly collector: Collector;
}

/** `schema.ddl.extra` → `schema.ddl` */
export const kindLabel = (kind: string) => kind.split('.').slice(0, 2).join('.');

export function createAuditMetrics(opts: { intervalMs?: number; now?: () => number } = {}): AuditMetrics {
  const now = opts.now ?? Date.now;
  const events = new Map<string, number>(INITIAL.map(([k, o]) => [`${k}\0${o}`, 0]));
  const kinds = new Set(INITIAL.map(([k]) => k));
  /** kind\0client → count; lastSeen per kind\0client */
  const failures = new Map<string, number>();
  const lastSeen = new Map<string, number>();
  const clientKey = (kind: string, client: string): string => {
    const key = `${kind}\0${client}`;
    if (failures.has(key)) return key;
    const clients = [...failures.keys()].filter((k) => !k.endsWith('\0other'));
    if (clients.length < MAX_CLIENTS) return key;
    // the quietest address past the idle time gives up its series (it ends; increase() sees a new one start)
    const t = now();
    const idle = clients.filter((k) => t - lastSeen.get(k)! > CLIENT_IDLE_MS).sort((a, b) => lastSeen.get(a)! - lastSeen.get(b)!)[0];
    if (idle === undefined) return `${kind}\0other`;
    failures.delete(idle);
    lastSeen.delete(idle);
    return key;
  };
  return {
    observe(e) {
      let kind = kindLabel(e.kind);
      if (!kinds.has(kind)) {
        if (kinds.size >= MAX_KINDS) kind = 'other';
        else kinds.add(kind);
      }
      const key = `${kind}\0${e.outcome ?? 'none'}`;
      events.set(key, (events.get(key) ?? 0) + 1);
      if (AUTH_KINDS.has(kind)) {
        const k = clientKey(kind, e.client ?? 'unknown');
        failures.set(k, (failures.get(k) ?? 0) + 1);
        lastSeen.set(k, now());
      }
    },
    collector: {
      name: 'audit',
      intervalMs: opts.intervalMs ?? 15_000,
      async collect(_ctx, emit) {
        for (const [key, v] of events) {
          const [kind, outcome] = key.split('\0') as [string, string];
          emit(auditEventsTotal, { kind, outcome }, v);
        }
        for (const [key, v] of failures) {
          const [kind, client] = key.split('\0') as [string, string];
          emit(auditAuthFailuresTotal, { kind, client }, v);
        }
      },
    },
  };
}
