// The contract of one advice check: a name and a function from what it may read to its findings.
// A new check is one file under checks/ and one line in checks/index.ts.
import type { AdviceThresholds } from './thresholds.ts';
import type { Finding } from './finding.ts';

export type Query = (sql: string, values?: readonly unknown[]) => Promise<Record<string, unknown>[]>;

export interface CheckContext {
  readonly query: Query;
  readonly thresholds: AdviceThresholds;
  /** epoch ms, from the injected clock: ages are judged against it */
  readonly now: number;
  readonly major: number;
  readonly database: string;
  /** extensions created in this database, by name → schema */
  readonly extensions: ReadonlyMap<string, string>;
  /** the server log to read deadlock reports from, when dpmon can read it as a file */
  readonly logFile?: string;
  /** the deadlocks counter of the previous run, so that a repeated run reports the interval's */
  readonly previousDeadlocks?: { readonly count: number; readonly at: number };
  /** notes a check leaves about what it could not do (not failures) */
  note(text: string): void;
}

export interface Check {
  readonly name: string;
  run(ctx: CheckContext): Promise<Finding[]>;
}

/** A relation name as SQL: schema-qualified, each part quoted when it needs to be. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

export function ident(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export const num = (v: unknown): number => (v == null ? 0 : Number(v));
export const msOf = (v: unknown): number | undefined => (v == null ? undefined : new Date(v as string | Date).getTime());
export const isoOf = (v: unknown): string | null => (v == null ? null : new Date(v as string | Date).toISOString());
