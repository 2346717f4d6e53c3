// idle_in_transaction: sessions of this database idle inside a transaction for longer than the
// threshold. They hold their locks and their snapshot (backend_xmin), so vacuum cannot remove rows
// deleted after it: the xmin's age says how much they hold back. Ages are judged on dpmon's clock.
import { findingId, type Finding } from '../finding.ts';
import { ident, isoOf, msOf, num, type Check } from '../check.ts';

export const idleInTransaction: Check = {
  name: 'idle_in_transaction',
  async run(ctx) {
    const rows = await ctx.query(`/* dpmon */
SELECT pid, usename, application_name, client_addr::text AS client, state, state_change, xact_start,
       age(backend_xmin) AS xmin_age, backend_xid::text AS xid, left(query, 2000) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND state IN ('idle in transaction', 'idle in transaction (aborted)') AND pid <> pg_backend_pid()
ORDER BY state_change`);
    const findings: Finding[] = [];
    for (const r of rows) {
      const since = msOf(r.state_change);
      if (since === undefined) continue;
      const idleMs = ctx.now - since;
      if (idleMs < ctx.thresholds.idleInTransactionMs) continue;
      const pid = num(r.pid);
      findings.push({
        id: findingId('idle_in_transaction', `${ctx.database}/pid ${pid}`),
        kind: 'idle_in_transaction',
        severity: 'warning',
        confidence: 'high',
        object: `${ctx.database}/pid ${pid}`,
        summary: `session ${pid} (${String(r.usename)}, ${String(r.application_name) || 'no application_name'}) has been idle in a transaction for ${Math.round(idleMs / 1000)} s`,
        evidence: {
          pid,
          user: r.usename,
          applicationName: r.application_name,
          client: r.client,
          state: r.state,
          idleSeconds: Math.round(idleMs / 1000),
          transactionStart: isoOf(r.xact_start),
          xminAge: r.xmin_age == null ? null : num(r.xmin_age),
          xid: r.xid,
        },
        statement: String(r.query ?? ''),
        fix: [
          `SELECT pg_terminate_backend(${pid});  -- after asking its owner: it rolls back the transaction`,
          `ALTER ROLE ${ident(String(r.usename))} SET idle_in_transaction_session_timeout = '5min';`,
        ],
      });
    }
    return findings;
  },
};
