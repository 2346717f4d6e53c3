// `dpmon queries SUBCOMMAND`: one entry per subcommand in QUERIES_COMMANDS (usage, help, run), each a
// client of a running dpmon's /api/dpmon/queries endpoints. A new subcommand is one entry here.

export interface QueriesCliOptions {
  /** the running instance, e.g. http://127.0.0.1:9817 */
  readonly base: string;
  /** positionals after the subcommand */
  readonly args: readonly string[];
  readonly target?: string;
  readonly since?: string;
  readonly limit?: string;
  readonly order?: string;
  readonly json?: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface QueriesSubcommand {
  readonly usage: string;
  readonly help: string;
  /** resolves with the exit code: 0 ok, 1 the instance could not be reached or refused, 2 bad usage */
  run(opts: QueriesCliOptions): Promise<number>;
}

/** GET a dpmon API path: the body's data, or an exit code after saying why */
async function getData<T>(opts: QueriesCliOptions, path: string, params: Record<string, string | undefined>): Promise<{ data: T } | { code: number }> {
  const qs = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  const url = `${opts.base}${path}${qs ? `?${qs}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    opts.err(`dpmon: cannot reach ${opts.base}: ${(err as Error).message}\n`);
    return { code: 1 };
  }
  const body = (await res.json().catch(() => ({}))) as { data?: T; error?: string };
  if (!res.ok) {
    opts.err(`dpmon: ${path} answered HTTP ${res.status}: ${body.error ?? ''}\n`);
    // the server's refusal of a parameter is the caller's bad usage
    return { code: res.status === 400 ? 2 : 1 };
  }
  return { data: body.data as T };
}

const ms = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${v.toFixed(v >= 100 ? 0 : 2)}ms`);
const oneLine = (text: string | null, max: number) => (text ?? '(text unknown)').replace(/\s+/g, ' ').slice(0, max);

interface TopRow { fingerprint: string; text: string | null; calls: number; totalTimeMs: number; meanTimeMs: number; rows: number; shareOfTotalTime: number; ioTimeMs: number; tempBytes: number; walBytes: number; databases: string[] }
interface TopData { since: string; total: { totalTimeMs: number; calls: number }; statements: TopRow[]; other: { totalTimeMs: number; calls: number; entries: number } }

const top: QueriesSubcommand = {
  usage: 'top [--target NAME] [--since 1h] [--limit 20] [--order total_time] [--json] [--url URL]',
  help: `  The statements that cost most over the window (GET /api/dpmon/queries): fingerprint, share of all
  execution time, total and mean time, calls, rows, I/O time, temp and WAL bytes, and the text.
  --order: total_time, mean_time, calls, rows, io_time, temp_bytes or wal_bytes.
`,
  async run(opts) {
    const r = await getData<TopData>(opts, '/api/dpmon/queries', { target: opts.target, since: opts.since, limit: opts.limit, order: opts.order });
    if ('code' in r) return r.code;
    if (opts.json) {
      opts.out(`${JSON.stringify(r.data, null, 2)}\n`);
      return 0;
    }
    const d = r.data;
    opts.out(`since ${d.since}: ${ms(d.total.totalTimeMs)} in ${d.total.calls} calls\n`);
    opts.out(`${'FINGERPRINT'.padEnd(17)} ${'SHARE'.padStart(6)} ${'TOTAL'.padStart(9)} ${'MEAN'.padStart(9)} ${'CALLS'.padStart(8)} ${'ROWS'.padStart(9)} ${'IO'.padStart(8)}  QUERY\n`);
    for (const s of d.statements)
      opts.out(`${s.fingerprint.padEnd(17)} ${`${(s.shareOfTotalTime * 100).toFixed(1)}%`.padStart(6)} ${ms(s.totalTimeMs).padStart(9)} ${ms(s.meanTimeMs).padStart(9)} ${String(s.calls).padStart(8)} ${String(s.rows).padStart(9)} ${ms(s.ioTimeMs).padStart(8)}  ${oneLine(s.text, 80)}\n`);
    if (d.other.entries > 0) opts.out(`${'other'.padEnd(17)} ${''.padStart(6)} ${ms(d.other.totalTimeMs).padStart(9)} ${''.padStart(9)} ${String(d.other.calls).padStart(8)}  (${d.other.entries} entries summed)\n`);
    return 0;
  },
};

interface ShowData {
  fingerprint: string;
  text: { text: string; parsed: boolean } | null;
  total: { calls: number; totalTimeMs: number; meanTimeMs: number; rows: number; ioTimeMs: number; tempBytes: number; walBytes: number };
  intervals: { at: string; target: string; calls: number; totalTimeMs: number; meanTimeMs: number; rows: number; reset: boolean }[];
  byDatabaseUser: { target: string; datname: string; user: string; calls: number; totalTimeMs: number; meanTimeMs: number }[];
  plans?: { target: string; at: string; source: string; planHash: string; topNodes: { kind: string; nodeType: string; relation: string | null; why: string }[] }[];
}

const show: QueriesSubcommand = {
  usage: 'show FINGERPRINT [--target NAME] [--since 1h] [--json] [--url URL]',
  help: `  One fingerprint (GET /api/dpmon/queries/FINGERPRINT): its text, totals, each interval, and each
  target, database and user that ran it. Exit 1 when the history has no such fingerprint.
`,
  async run(opts) {
    const fp = opts.args[0];
    if (!fp) {
      opts.err('dpmon: queries show needs a FINGERPRINT (shown by dpmon queries top)\n');
      return 2;
    }
    const r = await getData<ShowData>(opts, `/api/dpmon/queries/${encodeURIComponent(fp)}`, { target: opts.target, since: opts.since });
    if ('code' in r) return r.code;
    if (opts.json) {
      opts.out(`${JSON.stringify(r.data, null, 2)}\n`);
      return 0;
    }
    const d = r.data;
    opts.out(`fingerprint ${d.fingerprint}${d.text && !d.text.parsed ? ' (from the folded text: the parser could not read it)' : ''}\n${d.text?.text ?? '(text unknown)'}\n\n`);
    const t = d.total;
    opts.out(`total ${ms(t.totalTimeMs)}, mean ${ms(t.meanTimeMs)}, ${t.calls} calls, ${t.rows} rows, I/O ${ms(t.ioTimeMs)}, temp ${t.tempBytes} B, WAL ${t.walBytes} B\n\nby database and user:\n`);
    for (const g of d.byDatabaseUser) opts.out(`  ${g.target} ${g.datname} ${g.user}: ${ms(g.totalTimeMs)} in ${g.calls} calls (mean ${ms(g.meanTimeMs)})\n`);
    opts.out('\nintervals:\n');
    for (const i of d.intervals) opts.out(`  ${i.at} ${i.target}: ${i.calls} calls, ${ms(i.totalTimeMs)}, mean ${ms(i.meanTimeMs)}, ${i.rows} rows${i.reset ? ' (counted from zero: new or reset)' : ''}\n`);
    const plan = d.plans?.[0];
    if (!plan) return 0;
    opts.out(`\nlatest plan: ${plan.at} ${plan.target} (${plan.source}, hash ${plan.planHash}; ${d.plans!.length} stored)\n`);
    if (plan.topNodes.length === 0) opts.out('  no seq scan of a large table, spilling sort, large nested loop or estimate off by 10x\n');
    for (const n of plan.topNodes) opts.out(`  ${n.kind}: ${n.nodeType}${n.relation ? ` on ${n.relation}` : ''}: ${n.why}\n`);
    return 0;
  },
};

interface FindingRow { kind: string; target: string; fingerprint: string; text: string | null; since: string; evidence: Record<string, number | string>; planNode: { nodeType: string; relation: string | null; why: string } | null; confidence: number }

const num = (v: number | string) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : String(v));

const findings: QueriesSubcommand = {
  usage: 'findings [--target NAME] [--since 1h] [--json] [--url URL]',
  help: `  Pattern detection over the window (GET /api/dpmon/queries/findings): regressions (with when they
  started), new statements, N+1 shapes and plan changes, each with its evidence, plan node and confidence.
`,
  async run(opts) {
    const r = await getData<{ since: string; findings: FindingRow[] }>(opts, '/api/dpmon/queries/findings', { target: opts.target, since: opts.since });
    if ('code' in r) return r.code;
    if (opts.json) {
      opts.out(`${JSON.stringify(r.data, null, 2)}\n`);
      return 0;
    }
    if (r.data.findings.length === 0) opts.out(`no findings since ${r.data.since}\n`);
    for (const f of r.data.findings) {
      opts.out(`${f.kind} ${f.target} ${f.fingerprint} since ${f.since} (confidence ${f.confidence.toFixed(2)}): ${oneLine(f.text, 80)}\n`);
      opts.out(`  ${Object.entries(f.evidence).map(([k, v]) => `${k}=${num(v)}`).join(' ')}\n`);
      if (f.planNode) opts.out(`  plan: ${f.planNode.nodeType}${f.planNode.relation ? ` on ${f.planNode.relation}` : ''}: ${f.planNode.why}\n`);
    }
    return 0;
  },
};

interface LongRow { target: string; pid: number; user: string | null; datname: string | null; durationSeconds: number; state: string | null; waitEventType: string | null; waitEvent: string | null; query: string; blockingChain: { pid: number; state: string | null; query: string }[] }

const longRunning: QueriesSubcommand = {
  usage: 'long-running [--target NAME] [--json] [--url URL]',
  help: `  The statements running for long_running_threshold (30s) or more, read live from pg_stat_activity
  (GET /api/dpmon/queries/long-running), with their wait event and the sessions blocking them.
`,
  async run(opts) {
    const r = await getData<LongRow[]>(opts, '/api/dpmon/queries/long-running', { target: opts.target });
    if ('code' in r) return r.code;
    if (opts.json) {
      opts.out(`${JSON.stringify(r.data, null, 2)}\n`);
      return 0;
    }
    if (r.data.length === 0) opts.out('no long-running statements\n');
    for (const s of r.data) {
      opts.out(`${s.target} pid ${s.pid} ${s.user ?? '?'}@${s.datname ?? '?'} ${s.durationSeconds.toFixed(0)}s ${s.state ?? ''}${s.waitEvent ? ` waiting on ${s.waitEventType}/${s.waitEvent}` : ''}: ${oneLine(s.query, 100)}\n`);
      for (const b of s.blockingChain) opts.out(`  blocked by pid ${b.pid} (${b.state ?? 'unknown'}): ${oneLine(b.query, 90)}\n`);
    }
    return 0;
  },
};

export const QUERIES_COMMANDS: Record<string, QueriesSubcommand> = { top, show, findings, 'long-running': longRunning };

export const QUERIES_HELP = `Usage: dpmon queries SUBCOMMAND [options] [--url URL] [--config PATH]...

The statement history and long-running statements of a running dpmon (docs/query-analysis.md).
--url defaults to http://<server.listen> of the config. Exit 0 ok, 1 the instance could not be reached
or has no such statement, 2 bad usage.

${Object.entries(QUERIES_COMMANDS).map(([name, c]) => `dpmon queries ${name} ${c.usage.replace(/^\S+\s*/, '')}\n${c.help}`).join('\n')}`;

/** Runs `dpmon queries SUB`; resolves with the exit code. */
export async function runQueriesCommand(sub: string | undefined, opts: QueriesCliOptions): Promise<number> {
  const cmd = sub === undefined ? undefined : QUERIES_COMMANDS[sub];
  if (!cmd) {
    opts.err(`dpmon: queries needs ${Object.keys(QUERIES_COMMANDS).join(', ')}\n\n${QUERIES_HELP}`);
    return 2;
  }
  return cmd.run(opts);
}
