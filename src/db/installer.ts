// `dpmon db install | uninstall | status` against one target: each part of DB_PARTS in schema
// `monitoring`, recorded in `monitoring.dpmon_parts` (version, the settings it was made with, when it
// was installed and last maintained). Idempotent: a part installed with the same version and settings
// is left alone; a change replaces it in one transaction, so readers never see it half made.
import type { Config } from '../config/index.ts';
import type { DbPart, Finding, ServerFacts } from './part.ts';
import { ident, literal } from './part.ts';
import { DB_PARTS } from './parts/index.ts';
import { serverFacts } from './preflight.ts';

export type Query = (sql: string, values?: unknown[]) => Promise<Record<string, unknown>[]>;

export const META_TABLE = 'monitoring.dpmon_parts';

export interface PartOutcome {
  readonly part: string;
  /** installed: new; replaced: its version or settings changed; unchanged; skipped: a finding stopped it; removed; absent */
  readonly outcome: 'installed' | 'replaced' | 'unchanged' | 'skipped' | 'removed' | 'absent' | 'would_install';
  readonly settings?: Record<string, string | number>;
  readonly findings: readonly Finding[];
  /** the statements run (or, with dryRun, that would run) */
  readonly sql: readonly string[];
}

export interface DbReport {
  readonly facts: ServerFacts;
  /** problems of the schema itself, before any part */
  readonly findings: readonly Finding[];
  readonly parts: readonly PartOutcome[];
}

/** Whether the role may create schema monitoring, or create in it. */
export function schemaFindings(facts: ServerFacts): Finding[] {
  if (facts.superuser) return [];
  if (facts.schemaOwner === undefined && !facts.createOnDatabase) {
    return [{ level: 'error', what: `${facts.role} may not create schema monitoring in database ${facts.database}`, fix: `a superuser runs: GRANT CREATE ON DATABASE ${ident(facts.database)} TO ${ident(facts.role)};` }];
  }
  if (facts.schemaOwner !== undefined && !facts.createOnSchema) {
    return [{ level: 'error', what: `schema monitoring belongs to ${facts.schemaOwner} and ${facts.role} may not create in it`, fix: `${facts.schemaOwner} or a superuser runs: GRANT CREATE, USAGE ON SCHEMA monitoring TO ${ident(facts.role)};` }];
  }
  return [];
}

/** whether the role owns schema monitoring, or will once it creates it (a superuser may do either) */
const ownsSchema = (facts: ServerFacts) => facts.superuser || facts.schemaOwner === undefined || facts.schemaOwner === facts.role;

interface Installed {
  readonly version: number;
  readonly settings: Record<string, string | number>;
  readonly installedAt: string;
  readonly maintainedAt?: string;
}

/** The parts recorded as installed (none while the meta table does not exist). */
export async function installedParts(query: Query): Promise<Map<string, Installed>> {
  const [exists] = await query(`SELECT to_regclass('${META_TABLE}') IS NOT NULL AS present`);
  if (!exists?.present) return new Map();
  const rows = await query(`SELECT part, version, settings::text AS settings, installed_at::text AS installed_at, maintained_at::text AS maintained_at FROM ${META_TABLE}`);
  return new Map(
    rows.map((r) => [
      String(r.part),
      {
        version: Number(r.version),
        settings: JSON.parse(String(r.settings)) as Record<string, string | number>,
        installedAt: String(r.installed_at),
        ...(r.maintained_at != null ? { maintainedAt: String(r.maintained_at) } : {}),
      },
    ]),
  );
}

const sameSettings = (a: Record<string, unknown>, b: Record<string, unknown>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

export async function installParts(query: Query, config: Config, opts: { dryRun?: boolean; parts?: readonly DbPart[] } = {}): Promise<DbReport> {
  const facts = await serverFacts(query);
  const findings = schemaFindings(facts);
  const parts = opts.parts ?? DB_PARTS;
  if (findings.some((f) => f.level === 'error')) return { facts, findings, parts: parts.map((p) => ({ part: p.name, outcome: 'skipped', findings: [], sql: [] })) };
  const base = [
    'CREATE SCHEMA IF NOT EXISTS monitoring',
    `CREATE TABLE IF NOT EXISTS ${META_TABLE} (part text PRIMARY KEY, version int NOT NULL, settings jsonb NOT NULL, installed_at timestamptz NOT NULL DEFAULT now(), maintained_at timestamptz)`,
    // only the schema's owner may comment on it: one a DBA made and granted CREATE on keeps its own
    ...(ownsSchema(facts) ? [`COMMENT ON SCHEMA monitoring IS 'objects of dpmon (datapunk-monitor): dpmon db status lists them'`] : []),
  ];
  if (!opts.dryRun) for (const sql of base) await query(sql);
  const installed = opts.dryRun ? new Map<string, Installed>() : await installedParts(query);
  const outcomes: PartOutcome[] = [];
  for (const part of parts) {
    const partFindings = part.check(facts);
    const settings = part.settings(config);
    if (partFindings.some((f) => f.level === 'error')) {
      outcomes.push({ part: part.name, outcome: 'skipped', settings, findings: partFindings, sql: [] });
      continue;
    }
    const before = installed.get(part.name);
    if (before && before.version === part.version && sameSettings(before.settings, settings)) {
      outcomes.push({ part: part.name, outcome: 'unchanged', settings, findings: partFindings, sql: [] });
      continue;
    }
    const sql = [
      ...(before ? part.uninstall() : []),
      ...part.install(facts, settings),
      `INSERT INTO ${META_TABLE} (part, version, settings) VALUES (${literal(part.name)}, ${part.version}, ${literal(JSON.stringify(settings))}::jsonb)
ON CONFLICT (part) DO UPDATE SET version = EXCLUDED.version, settings = EXCLUDED.settings, installed_at = now(), maintained_at = NULL`,
    ];
    if (opts.dryRun) {
      outcomes.push({ part: part.name, outcome: 'would_install', settings, findings: partFindings, sql: [...base, ...sql] });
      continue;
    }
    await inTransaction(query, sql);
    outcomes.push({ part: part.name, outcome: before ? 'replaced' : 'installed', settings, findings: partFindings, sql });
  }
  return { facts, findings, parts: outcomes };
}

export async function uninstallParts(query: Query, opts: { parts?: readonly DbPart[] } = {}): Promise<DbReport & { readonly schemaKept?: string }> {
  const facts = await serverFacts(query);
  const installed = await installedParts(query);
  const outcomes: PartOutcome[] = [];
  for (const part of [...(opts.parts ?? DB_PARTS)].reverse()) {
    if (!installed.has(part.name)) {
      outcomes.push({ part: part.name, outcome: 'absent', findings: [], sql: [] });
      continue;
    }
    const sql = [...part.uninstall(), `DELETE FROM ${META_TABLE} WHERE part = ${literal(part.name)}`];
    await inTransaction(query, sql);
    outcomes.push({ part: part.name, outcome: 'removed', findings: [], sql });
  }
  // the schema goes once nothing of dpmon's is left in it; anything else someone put there stays
  let schemaKept: string | undefined;
  if ((await installedParts(query)).size === 0 && facts.schemaOwner !== undefined) {
    await query(`DROP TABLE IF EXISTS ${META_TABLE}`);
    const [other] = await query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'monitoring'`);
    if (!ownsSchema(facts)) schemaKept = `schema monitoring belongs to ${facts.schemaOwner}: left in place`;
    else if (Number(other?.n ?? 0) === 0) await query('DROP SCHEMA monitoring');
    else schemaKept = `schema monitoring still holds ${other!.n} object(s) that are not dpmon's: left in place`;
  }
  return { facts, findings: [], parts: outcomes, ...(schemaKept ? { schemaKept } : {}) };
}

export interface PartStatus {
  readonly part: string;
  readonly title: string;
  readonly state: 'installed' | 'outdated' | 'missing';
  readonly installed?: Installed;
  /** what the config asks for */
  readonly settings: Record<string, string | number>;
  readonly details: Record<string, string | number>;
  readonly findings: readonly Finding[];
}

export async function partsStatus(query: Query, config: Config, parts: readonly DbPart[] = DB_PARTS): Promise<{ facts: ServerFacts; findings: readonly Finding[]; parts: PartStatus[] }> {
  const facts = await serverFacts(query);
  const installed = await installedParts(query);
  const out: PartStatus[] = [];
  for (const part of parts) {
    const inst = installed.get(part.name);
    const settings = part.settings(config);
    const state = !inst ? 'missing' : inst.version === part.version && sameSettings(inst.settings, settings) ? 'installed' : 'outdated';
    const details = inst && part.describe ? await part.describe((sql) => query(sql)) : {};
    out.push({ part: part.name, title: part.title, state, ...(inst ? { installed: inst } : {}), settings, details, findings: part.check(facts) });
  }
  return { facts, findings: schemaFindings(facts), parts: out };
}

async function inTransaction(query: Query, sql: readonly string[]): Promise<void> {
  await query('BEGIN');
  try {
    for (const s of sql) await query(s);
    await query('COMMIT');
  } catch (err) {
    await query('ROLLBACK').catch(() => {});
    throw err;
  }
}
