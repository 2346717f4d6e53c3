// xid_wraparound: how far this database, and its oldest tables, are from transaction-ID wraparound:
// age(datfrozenxid) and age(relfrozenxid) against autovacuum_freeze_max_age (warning from a fraction
// of it: autovacuum should have frozen them by then) and against 2^31 (critical: the server stops
// accepting writes when it gets near).
import { findingId, type Finding } from '../finding.ts';
import { num, qualified, type Check } from '../check.ts';

const XID_LIMIT = 2 ** 31;

export const wraparound: Check = {
  name: 'xid_wraparound',
  async run(ctx) {
    const t = ctx.thresholds;
    const [db] = await ctx.query(`/* dpmon */
SELECT age(datfrozenxid) AS age, current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
FROM pg_database WHERE datname = current_database()`);
    const freezeMaxAge = num(db?.freeze_max_age);
    const warnAt = t.wraparoundWarnFraction * freezeMaxAge;
    const criticalAt = t.wraparoundCriticalFraction * XID_LIMIT;
    const findings: Finding[] = [];
    const age = num(db?.age);
    if (age < warnAt) return findings;
    const tables = await ctx.query(`/* dpmon */
SELECT n.nspname, c.relname, age(c.relfrozenxid) AS age
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 't') AND age(c.relfrozenxid) >= $1
ORDER BY age(c.relfrozenxid) DESC LIMIT 10`, [warnAt]);
    const critical = age >= criticalAt;
    findings.push({
      id: findingId('xid_wraparound', ctx.database),
      kind: 'xid_wraparound',
      severity: critical ? 'critical' : 'warning',
      confidence: 'high',
      object: ctx.database,
      summary: `database ${ctx.database} is ${age} transactions old (autovacuum_freeze_max_age ${freezeMaxAge}); ${XID_LIMIT - age} remain before wraparound`,
      evidence: {
        datfrozenxidAge: age,
        autovacuumFreezeMaxAge: freezeMaxAge,
        remaining: XID_LIMIT - age,
        oldestTables: tables.map((r) => ({ table: qualified(String(r.nspname), String(r.relname)), age: num(r.age) })),
      },
      fix: tables.length > 0
        ? tables.map((r) => `VACUUM (FREEZE, VERBOSE) ${qualified(String(r.nspname), String(r.relname))};`)
        : [`VACUUM (FREEZE, VERBOSE);`],
    });
    return findings;
  },
};
