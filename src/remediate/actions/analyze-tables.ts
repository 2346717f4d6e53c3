// analyze_tables (auto_remediation low_cache_hit_ratio under 50 %): ANALYZEs the tables of the alert's
// database with the most modifications since their last analyze, so the planner's estimates (and the
// plans that read too much) catch up. Identifiers are quoted by PostgreSQL's format('%I.%I').
//
// Departures, on purpose: the rule measures the ratio as a 5-minute rate, which one snapshot cannot
// reproduce, so the trigger's value decides (the cumulative pg_stat_database ratio is only the fallback
// and the before/after record). ANALYZE works on the current database only and the context carries
// one session, so an alert about another database gets an empty plan saying so.
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep, RemediationTrigger } from '../types.ts';
import { pause } from '../../lib/clock.ts';
import { checkPercent, pgErrorText, roundPct } from '../sessions.ts';
import type { ActionDefinition } from '../types.ts';

export interface AnalyzeTablesOptions {
  /** at most this many tables per run, most modified first; default 10 */
  readonly maxTables?: number;
  /** tables with fewer modifications since their last analyze are skipped; default 1 */
  readonly minModifications?: number;
  /** used when the trigger carries no threshold; default 50 (the spec) */
  readonly thresholdPct?: number;
}

export const CACHE_HIT_SQL = `/* dpmon */ SELECT current_database() AS datname,
       CASE WHEN blks_hit + blks_read > 0 THEN 100.0 * blks_hit / (blks_hit + blks_read) END::float8 AS ratio
FROM pg_stat_database WHERE datname = current_database()`;

export const TABLES_TO_ANALYZE_SQL = `/* dpmon */ SELECT format('%I.%I', schemaname, relname) AS qualified_name, n_mod_since_analyze
FROM pg_stat_user_tables
WHERE n_mod_since_analyze >= $1
ORDER BY n_mod_since_analyze DESC, relid
LIMIT $2`;

export const LAST_ANALYZE_SQL = `/* dpmon */ SELECT (extract(epoch FROM last_analyze) * 1000000)::bigint::text AS last_analyze_us
FROM pg_stat_user_tables WHERE relid = to_regclass($1)`;

// `ANALYZE schema.table` exactly as format('%I.%I') writes it: plain lower-case names or double-quoted
// ones with "" inside, nothing else, so a stored plan cannot smuggle in another statement.
const IDENT = '(?:[a-z_][a-z0-9_]*|"(?:[^"]|"")+")';
const STEP_RE = new RegExp(`^/\\* dpmon \\*/ ANALYZE (${IDENT}\\.${IDENT})$`);

export function createAnalyzeTables(options: AnalyzeTablesOptions = {}, name = 'analyze_tables'): Action {
  const maxTables = options.maxTables ?? 10;
  const minModifications = options.minModifications ?? 1;
  if (!Number.isInteger(maxTables) || maxTables < 1) throw new Error(`${name}: max_tables must be a whole number of 1 or more`);
  if (!Number.isInteger(minModifications) || minModifications < 1) throw new Error(`${name}: min_modifications must be a whole number of 1 or more`);

  return {
    name,
    kind: 'postgres',

    async plan(trigger: RemediationTrigger, ctx: ActionContext): Promise<ActionPlan | null> {
      const pg = requirePg(name, ctx);
      const thresholdPct = checkPercent(name, trigger.threshold ?? options.thresholdPct ?? 50);
      const { rows } = await pg.query<{ datname: string; ratio: number | null }>(CACHE_HIT_SQL);
      const current = rows[0];
      if (!current) throw new Error(`${name}: pg_stat_database has no row for the current database`);
      const cumulative = current.ratio === null ? undefined : Number(current.ratio);
      const ratio = trigger.value ?? cumulative;
      if (ratio === undefined || ratio >= thresholdPct) return null;

      const before: Record<string, number> = { cache_hit_ratio_pct: roundPct(ratio), threshold_pct: thresholdPct };
      if (cumulative !== undefined) before.cumulative_cache_hit_ratio_pct = roundPct(cumulative);
      const wanted = trigger.labels.datname;
      if (wanted !== undefined && wanted !== current.datname) {
        return {
          action: name,
          steps: [],
          before,
          reason: `the alert is about database ${JSON.stringify(wanted)} but dpmon's session is connected to ${JSON.stringify(current.datname)}; ANALYZE acts on the current database only`,
        };
      }
      const tables = await pg.query<{ qualified_name: string; n_mod_since_analyze: string | number }>(TABLES_TO_ANALYZE_SQL, [minModifications, maxTables]);
      before.tables_planned = tables.rows.length;
      before.modifications_since_analyze = tables.rows.reduce((sum, t) => sum + Number(t.n_mod_since_analyze), 0);
      if (tables.rows.length === 0) {
        return { action: name, steps: [], before, reason: `no table of ${current.datname} has ${minModifications} or more modifications since its last analyze` };
      }
      const steps: PlannedStep[] = tables.rows.map((t) => ({
        description: `analyze ${t.qualified_name} in ${current.datname} (${t.n_mod_since_analyze} rows modified since its last analyze)`,
        command: `/* dpmon */ ANALYZE ${t.qualified_name}`,
      }));
      return { action: name, steps, before };
    },

    async execute(plan: ActionPlan, ctx: ActionContext): Promise<ActionOutcome> {
      const pg = requirePg(name, ctx);
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      for (const step of plan.steps) {
        if (ctx.signal.aborted) {
          failed.push({ step, error: 'not run: remediation aborted' });
          continue;
        }
        const m = STEP_RE.exec(step.command);
        if (!m) {
          failed.push({ step, error: 'not run: the command is not an ANALYZE step this action plans' });
          continue;
        }
        const table = m[1]!;
        try {
          const beforeUs = await lastAnalyze(pg, table);
          if (beforeUs === null) {
            failed.push({ step, error: `not run: table ${table} no longer exists` });
            continue;
          }
          // validated above to be exactly ANALYZE of one quoted name
          await pg.query(step.command);
          // without ownership (or superuser, pg_maintain) ANALYZE only warns and skips: check it ran
          if (!(await analyzedSince(pg, table, beforeUs, ctx))) {
            failed.push({ step, error: `ANALYZE ${table} did not run: dpmon's role must own the table (or be superuser, or have pg_maintain on PostgreSQL 17)` });
          } else done.push(step);
        } catch (err) {
          failed.push({ step, error: pgErrorText(err) });
          ctx.log.warn({ err, table }, 'analyze failed');
        }
      }
      const { rows } = await pg.query<{ ratio: number | null }>(CACHE_HIT_SQL);
      const ratio = rows[0]?.ratio;
      return {
        ok: failed.length === 0,
        done,
        failed,
        after: {
          tables_analyzed: done.length,
          ...(ratio === null || ratio === undefined ? {} : { cumulative_cache_hit_ratio_pct: roundPct(Number(ratio)) }),
        },
      };
    },
  };
}

/** last_analyze in epoch µs as text ('' when never analyzed), or null when the table is gone. */
async function lastAnalyze(pg: NonNullable<ActionContext['pg']>, table: string): Promise<string | null> {
  const { rows } = await pg.query<{ last_analyze_us: string | null }>(LAST_ANALYZE_SQL, [table]);
  if (rows.length === 0) return null;
  return rows[0]!.last_analyze_us ?? '';
}

// The statistics of PostgreSQL 13/14 arrive through the stats collector, a moment after the command:
// poll briefly rather than report a false failure.
async function analyzedSince(pg: NonNullable<ActionContext['pg']>, table: string, beforeUs: string, ctx: ActionContext): Promise<boolean> {
  const deadline = ctx.clock.now() + 2000;
  for (;;) {
    const now = await lastAnalyze(pg, table);
    if (now !== null && now !== '' && now !== beforeUs) return true;
    if (ctx.clock.now() >= deadline) return false;
    await pause(ctx.clock, 100, ctx.signal);
  }
}

function requirePg(name: string, ctx: ActionContext) {
  if (!ctx.pg) throw new Error(`${name}: no PostgreSQL session for target ${ctx.target ?? '(none)'}`);
  return ctx.pg;
}

/** The spec's analyze_tables: under the trigger's threshold (50 %), the 10 most modified tables. */
export const analyzeTables: Action = createAnalyzeTables();

export const analyzeTablesAction: ActionDefinition = {
  specNames: { analyze_tables: 'analyze_tables' }, build: () => [createAnalyzeTables({})] };
