// `dpmon queries advice [--target NAME] [--json] [--server-log PATH]`: runs the advice checks once on a
// configured target and prints each finding with its evidence and what to do. Exported as a handler the
// `queries` command's dispatcher calls.
import type { Config, TargetConfig } from '../config/index.ts';
import type { Clock } from '../lib/clock.ts';
import { AdviceConnectError, runAdvice } from './engine.ts';
import type { AdviceReport, Finding } from './finding.ts';

/** The advice run on demand may read the log and explain statements: longer than a collector's 5 s. */
const ADVICE_COMMAND_TIMEOUT_MS = 30_000;

export interface AdviceCommandOptions {
  readonly json?: boolean;
  readonly serverLog?: string;
  readonly clock: Clock;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Resolves with the exit code: 0 the report is printed, 1 the target is unreachable or a check failed. */
export async function runAdviceCommand(_config: Config, target: TargetConfig, opts: AdviceCommandOptions): Promise<number> {
  let report: AdviceReport;
  try {
    report = await runAdvice(target, {
      clock: opts.clock,
      statementTimeoutMs: Math.max(target.statementTimeoutMs, ADVICE_COMMAND_TIMEOUT_MS),
      ...(opts.serverLog !== undefined ? { logFile: opts.serverLog } : {}),
    });
  } catch (err) {
    opts.err(`dpmon: ${err instanceof AdviceConnectError ? err.message : `queries advice failed on target ${target.name}: ${(err as Error).message}`}\n`);
    return 1;
  }
  if (opts.json) opts.out(`${JSON.stringify(report, null, 2)}\n`);
  else opts.out(formatReport(report));
  return report.checks.some((c) => !c.ok) ? 1 : 0;
}

export function formatReport(r: AdviceReport): string {
  let out = `target ${r.target}: PostgreSQL ${r.serverMajor}, database ${r.database}: ${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}\n`;
  for (const f of r.findings) out += formatFinding(f);
  for (const c of r.checks) {
    if (!c.ok) out += `  check ${c.check} failed: ${c.error}\n`;
    for (const n of c.notes ?? []) out += `  note (${c.check}): ${n}\n`;
  }
  return out;
}

function formatFinding(f: Finding): string {
  let out = `\n  ${f.severity} ${f.kind} ${f.object} (confidence ${f.confidence})\n    ${f.summary}\n`;
  out += `    evidence: ${Object.entries(f.evidence).map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join(' ')}\n`;
  if (f.statement) out += `    statement: ${f.statement.replace(/\s+/g, ' ').slice(0, 500)}\n`;
  for (const fix of f.fix) out += `    do: ${fix}\n`;
  return out;
}
