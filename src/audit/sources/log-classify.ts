// Which server log rows are audit events: failed logins, refused connections and access violations,
// decided by the row's SQLSTATE first (cheap, and the same in every lc_messages language), then by
// its English message for the cases one SQLSTATE covers several ways. The table is the whole policy.
import { CSV, type CsvRecord } from './csvlog.ts';

export type LogEventKind = 'auth.failure' | 'access.violation' | 'connection.refused';

export interface LogClassification {
  readonly kind: LogEventKind;
  /** a short word for what happened: wrong_password, no_hba_entry, unknown_role, permission_denied, … */
  readonly reason: string;
  readonly outcome: 'failure' | 'denied';
  readonly level: 'WARNING' | 'ERROR';
}

interface Rule {
  readonly sqlstate: string;
  /** when set, the message must match */
  readonly message?: RegExp;
  readonly classification: LogClassification;
}

const auth = (reason: string): LogClassification => ({ kind: 'auth.failure', reason, outcome: 'failure', level: 'WARNING' });
const denied = (reason: string): LogClassification => ({ kind: 'access.violation', reason, outcome: 'denied', level: 'WARNING' });

/** first match wins, per SQLSTATE in this order */
export const LOG_RULES: readonly Rule[] = [
  // 28P01 invalid_password: password, md5 and scram failures
  { sqlstate: '28P01', classification: auth('wrong_password') },
  // 28000 invalid_authorization_specification
  { sqlstate: '28000', message: /^no pg_hba\.conf entry for /, classification: auth('no_hba_entry') },
  { sqlstate: '28000', message: /^role ".*" does not exist/, classification: auth('unknown_role') },
  { sqlstate: '28000', message: /^pg_hba\.conf rejects connection/, classification: auth('hba_reject') },
  { sqlstate: '28000', classification: auth('not_authorized') },
  // 42501 insufficient_privilege: permission denied for table/schema/…, must be owner of …
  { sqlstate: '42501', message: /^permission denied /, classification: denied('permission_denied') },
  { sqlstate: '42501', message: /^must be owner of /, classification: denied('must_be_owner') },
  { sqlstate: '42501', classification: denied('insufficient_privilege') },
  // 53300 too_many_connections: "sorry, too many clients already", reserved slots, per-role/db limits
  { sqlstate: '53300', classification: { kind: 'connection.refused', reason: 'too_many_connections', outcome: 'denied', level: 'ERROR' } },
];

const bySqlstate = new Map<string, Rule[]>();
for (const r of LOG_RULES) bySqlstate.set(r.sqlstate, [...(bySqlstate.get(r.sqlstate) ?? []), r]);

export function classifyLogRecord(r: CsvRecord): LogClassification | undefined {
  const rules = bySqlstate.get(r.fields[CSV.sqlstate] ?? '');
  if (!rules) return undefined;
  const message = r.fields[CSV.message] ?? '';
  for (const rule of rules) if (!rule.message || rule.message.test(message)) return rule.classification;
  return undefined;
}

/** the client's address from csvlog's connection_from (`host:port`, `[local]`) */
export function clientOf(connectionFrom: string): string | undefined {
  if (!connectionFrom) return undefined;
  const colon = connectionFrom.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(connectionFrom.slice(colon + 1)) ? connectionFrom.slice(0, colon) : connectionFrom;
}

/** the role a failed login named: the row's user, else the one quoted in the message */
export function userOf(r: CsvRecord): string | undefined {
  const u = r.fields[CSV.user];
  if (u) return u;
  return /user "([^"]*)"/.exec(r.fields[CSV.message] ?? '')?.[1];
}
