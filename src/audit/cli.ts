// `dpmon audit verify|export`: read state.db of a data directory (dpmon may be running: SQLite's WAL lets
// a reader in beside the writer) and check the chain, or write a stretch of it as JSON lines for an auditor.
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openStateDb } from '../store/state-db.ts';
import { createAuditLog } from './audit-log.ts';

export interface AuditCliOptions {
  readonly dataDir: string;
  readonly from?: string;
  readonly to?: string;
  readonly out?: string;
  readonly json?: boolean;
  /** resolves once written (a pipe is written asynchronously, and the CLI exits right after) */
  readonly stdout: (text: string) => void | Promise<void>;
  readonly stderr: (text: string) => void;
}

export const AUDIT_HELP = `Usage: dpmon audit verify [--data-dir DIR] [--json] [--config PATH]...
       dpmon audit export [--from TIME] [--to TIME] [--out FILE] [--data-dir DIR] [--config PATH]...

verify: walks the audit trail's hash chain in state.db from its anchor (the last pruned row) and reports
        the first broken link: the row id, what its hash or link should be and what is stored.
        Exit 0 when intact, 1 when broken (or state.db cannot be read), 2 on bad usage.
export: writes every row from the first event at or after --from to the last before --to as JSON lines,
        each with its hash and the previous row's (prev_hash); docs/audit.md has a script that re-verifies
        them. TIME is ISO 8601 (2026-12-01, 2026-12-01T12:00:00Z) or epoch seconds; --from defaults to the
        start of the trail, --to to now. --out defaults to stdout.
The data directory is --data-dir, else storage.data_dir of the config (default ./dpmon-data).
`;

/** ISO 8601 or epoch seconds, as epoch ms; undefined when neither */
export function parseAuditTime(v: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

export async function runAuditCommand(sub: string | undefined, o: AuditCliOptions): Promise<number> {
  if (sub !== 'verify' && sub !== 'export') {
    o.stderr(`dpmon: audit needs verify or export\n\n${AUDIT_HELP}`);
    return 2;
  }
  const from = o.from === undefined ? 0 : parseAuditTime(o.from);
  const to = o.to === undefined ? Date.now() + 1 : parseAuditTime(o.to);
  if (from === undefined || to === undefined) {
    o.stderr(`dpmon: --${from === undefined ? 'from' : 'to'} ${JSON.stringify(from === undefined ? o.from : o.to)} is not a time: use ISO 8601 (2026-12-01T00:00:00Z) or epoch seconds\n`);
    return 2;
  }
  if (!existsSync(join(o.dataDir, 'state.db'))) {
    o.stderr(`dpmon: no state.db in ${o.dataDir}: no audit trail there (wrong --data-dir?)\n`);
    return 1;
  }
  let db;
  try {
    db = openStateDb(o.dataDir);
  } catch (err) {
    o.stderr(`dpmon: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    const audit = createAuditLog(db);
    if (sub === 'verify') {
      const r = audit.verify();
      if (o.json) await o.stdout(`${JSON.stringify(r)}\n`);
      else if (r.ok)
        await o.stdout(`audit chain intact: ${r.rows} rows${r.firstId !== undefined ? ` (ids ${r.firstId}..${r.lastId})` : ''}, from anchor ${r.anchor.hash} (rows up to ${r.anchor.id} pruned), head ${r.head.hash}\n`);
      else await o.stdout(`audit chain BROKEN at row ${r.broken.id}: ${r.broken.field} expected ${r.broken.expected}, found ${r.broken.found}\n  ${r.broken.reason}\n`);
      return r.ok ? 0 : 1;
    }
    const out = o.out ? openSync(o.out, 'w') : undefined;
    let n = 0;
    let chunk = '';
    // lines go out in chunks: one write per line would be slow to a pipe
    const flush = async () => {
      if (!chunk) return;
      const text = chunk;
      chunk = '';
      if (out === undefined) await o.stdout(text);
      else writeSync(out, text);
    };
    for (const line of audit.exportRange(from, to)) {
      chunk += `${JSON.stringify(line)}\n`;
      n++;
      if (chunk.length > 65_536) await flush();
    }
    await flush();
    if (out !== undefined) {
      closeSync(out);
      o.stderr(`wrote ${n} audit rows to ${o.out}\n`);
    }
    return 0;
  } catch (err) {
    o.stderr(`dpmon: audit ${sub} failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    db.close();
  }
}
