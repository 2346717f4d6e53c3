// `dpmon db install | uninstall | status`: connects to one configured target as dpmon does (its DSN,
// application_name dpmon) and prints what it found and did, each finding with the command that fixes it.
import pg from 'pg';
import type { Config, TargetConfig } from '../config/index.ts';
import { pgClientConfig } from '../collect/postgres/client-config.ts';
import type { Finding, ServerFacts } from './part.ts';
import { installParts, partsStatus, uninstallParts, type DbReport, type Query } from './installer.ts';

/** DDL may wait behind a lock or build an index over many statements: longer than a collector's 5 s */
const DB_COMMAND_TIMEOUT_MS = 60_000;

export type DbCommand = 'install' | 'uninstall' | 'status';

export interface DbCommandOptions {
  readonly target?: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The target a db command works on: --target NAME, else the only one configured. */
export function chooseTarget(config: Config, name: string | undefined): TargetConfig | string {
  if (name !== undefined) {
    const t = config.targets.find((x) => x.name === name);
    return t ?? `no target named ${JSON.stringify(name)} (configured: ${config.targets.map((x) => x.name).join(', ') || 'none'})`;
  }
  if (config.targets.length === 1) return config.targets[0]!;
  if (config.targets.length === 0) return 'no targets configured: this command works on a target of targets: (or DATABASE_URL)';
  return `${config.targets.length} targets configured: say which with --target NAME (${config.targets.map((x) => x.name).join(', ')})`;
}

/** Runs the command; resolves with the exit code (0 done, 1 something is missing or failed). */
export async function runDbCommand(command: DbCommand, config: Config, target: TargetConfig, opts: DbCommandOptions): Promise<number> {
  const client = new pg.Client({ ...pgClientConfig(target.dsn), application_name: 'dpmon', statement_timeout: DB_COMMAND_TIMEOUT_MS, lock_timeout: 10_000, connectionTimeoutMillis: target.connectTimeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    opts.err(`dpmon: cannot connect to target ${target.name}: ${(err as Error).message}\n`);
    return 1;
  }
  const query: Query = async (sql, values) => (await client.query(sql, values as unknown[] | undefined)).rows as Record<string, unknown>[];
  try {
    if (command === 'status') {
      const s = await partsStatus(query, config);
      if (opts.json) opts.out(`${JSON.stringify(s, null, 2)}\n`);
      else {
        opts.out(header(target, s.facts));
        printFindings(opts.out, s.findings, '  ');
        for (const p of s.parts) {
          const when = p.installed ? ` since ${p.installed.installedAt}${p.installed.maintainedAt ? `, maintained ${p.installed.maintainedAt}` : ', not maintained yet'}` : '';
          const details = Object.entries(p.details).map(([k, v]) => `${k}=${v}`).join(' ');
          opts.out(`  ${p.part}: ${p.state}${when}${details ? ` (${details})` : ''}\n    ${p.title}\n`);
          if (p.state === 'outdated') opts.out(`    the config asks for ${settingsText(p.settings)} (installed: ${settingsText(p.installed!.settings)}, version ${p.installed!.version}): run dpmon db install\n`);
          printFindings(opts.out, p.findings, '    ');
        }
      }
      return s.findings.some(isError) || s.parts.some((p) => p.state !== 'installed') ? 1 : 0;
    }
    const report: DbReport = command === 'install' ? await installParts(query, config, { dryRun: opts.dryRun }) : await uninstallParts(query);
    if (opts.json) opts.out(`${JSON.stringify(report, null, 2)}\n`);
    else {
      opts.out(header(target, report.facts));
      printFindings(opts.out, report.findings, '  ');
      for (const p of report.parts) {
        opts.out(`  ${p.part}: ${p.outcome.replace('_', ' ')}${p.settings ? ` (${settingsText(p.settings)})` : ''}\n`);
        printFindings(opts.out, p.findings, '    ');
        if (opts.dryRun) for (const sql of p.sql) opts.out(`${sql};\n`);
      }
      const kept = (report as { schemaKept?: string }).schemaKept;
      if (kept) opts.out(`  ${kept}\n`);
    }
    return report.findings.some(isError) || report.parts.some((p) => p.outcome === 'skipped') ? 1 : 0;
  } catch (err) {
    opts.err(`dpmon: db ${command} failed on target ${target.name}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await client.end().catch(() => {});
  }
}

const isError = (f: Finding) => f.level === 'error';
const settingsText = (s: Record<string, string | number>) => Object.entries(s).map(([k, v]) => `${k}=${v}`).join(', ');
const header = (t: TargetConfig, f: ServerFacts) => `target ${t.name}: PostgreSQL ${f.major}, database ${f.database}, role ${f.role}${f.superuser ? ' (superuser)' : ''}\n`;

function printFindings(out: (text: string) => void, findings: readonly Finding[], indent: string): void {
  for (const f of findings) out(`${indent}${f.level}: ${f.what}\n${indent}  fix: ${f.fix}\n`);
}
