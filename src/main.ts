// The dpmon command line. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatConfigIssue, isLoopbackHost, parseListen, printConfig, type LoadedConfig } from './config/index.ts';
import { createApp } from './app/app.ts';
import { chooseTarget, runDbCommand } from './db/cli.ts';
import { QUERIES_COMMANDS, QUERIES_HELP, runQueriesCommand } from './queries/cli.ts';
import { runAdviceCommand } from './advice/cli.ts';
import { systemClock } from './lib/clock.ts';
import { createLogger } from './lib/logger.ts';
import { createConfigCoordinator, loadCheckedConfig } from './app/reload.ts';
import { EXPORTS, ExportUsageError } from './export/index.ts';
import { AUDIT_HELP, runAuditCommand } from './audit/cli.ts';

const EXIT_OK = 0;
const EXIT_RUNTIME = 1;
const EXIT_USAGE = 2;

const USAGE = `dpmon — watches PostgreSQL servers and their hosts

Usage:
  dpmon start [--config PATH]... [--listen HOST:PORT] [--data-dir DIR]
  dpmon check-config [--config PATH]...
  dpmon config print [--config PATH]...
  dpmon alerts [--url URL] [--json] [--config PATH]...
  dpmon ack FINGERPRINT [--by NAME] [--comment TEXT] [--url URL] [--config PATH]...
  dpmon remediation list|approve ID [--by NAME] [--json] [--url URL] [--config PATH]...
  dpmon audit verify [--data-dir DIR] [--json] | export [--from TIME] [--to TIME] [--out FILE] [--data-dir DIR]
  dpmon db install|uninstall|status [--target NAME] [--dry-run] [--json] [--config PATH]...
${Object.entries(QUERIES_COMMANDS).map(([name, c]) => `  dpmon queries ${name} ${c.usage.replace(/^\S+\s*/, '')}\n`).join('')}  dpmon queries advice [--target NAME] [--json] [--server-log PATH] [--config PATH]...
${Object.entries(EXPORTS).map(([kind, e]) => `  dpmon export ${kind} ${e.usage}\n`).join('')}  dpmon COMMAND --help

--config takes a YAML file or a folder of *.yaml fragments (merged in name order) and may repeat.
With no --config, the spec's values are the defaults. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
`;

const HELP: Record<string, string> = {
  start: `Usage: dpmon start [--config PATH]... [--listen HOST:PORT] [--data-dir DIR]

Runs the monitor: host and PostgreSQL collectors, and /metrics on server.listen (default 127.0.0.1:9817).
With no PostgreSQL target configured (no targets:, no DATABASE_URL), runs an embedded PostgreSQL 16
under the data directory and monitors it. SIGINT or SIGTERM stop it cleanly.

Options:
  --config PATH      YAML file or folder of fragments; may repeat
  --listen HOST:PORT overrides server.listen
  --data-dir DIR     overrides storage.data_dir (default ./dpmon-data)
  -h, --help         this text
`,
  'check-config': `Usage: dpmon check-config [--config PATH]...

Loads and validates the configuration without starting anything. Prints every error as
file:line:col key.path: message and exits 2, or prints "config OK" and exits 0.
`,
  config: `Usage: dpmon config print [--config PATH]...

Prints the effective configuration (defaults, files and environment merged) as YAML, secrets as <secret>.
`,
};

HELP.alerts = `Usage: dpmon alerts [--url URL] [--json] [--config PATH]...

Lists the pending and firing alerts of a running dpmon (GET /api/v1/alerts): state, alert name,
severity, since when, value, labels and summary. --url defaults to http://<server.listen> of the config.
Exit 0 when the instance answered, 1 when it could not be reached.

Options:
  --url URL      the running instance, e.g. http://127.0.0.1:9817
  --json         print the API's JSON instead of a table
`;

HELP.ack = `Usage: dpmon ack FINGERPRINT [--by NAME] [--comment TEXT] [--url URL] [--config PATH]...

Acknowledges the incident an alert belongs to on a running dpmon (POST /api/dpmon/alerts/FINGERPRINT/ack):
its escalation stops and PagerDuty is sent an acknowledge. FINGERPRINT is shown by \`dpmon alerts --json\`.
The Bearer token is server.auth_token of the config, or DPMON_AUTH_TOKEN.
Exit 0 when acknowledged, 1 when the instance could not be reached or refused, 2 on bad usage.

Options:
  --by NAME      who acknowledges (default: $USER)
  --comment TEXT why, or what is being done
  --url URL      the running instance (default http://<server.listen>)
`;

HELP.remediation = `Usage: dpmon remediation list [--json] [--url URL]
       dpmon remediation approve ID [--by NAME] [--url URL]

list: the remediation audit trail of a running dpmon (plans, dry runs, approvals, executions and their
outcomes with before and after values) and the plans waiting for approval (GET /api/dpmon/remediations).
approve: runs a plan waiting for approval (remediation.mode: approve) if its alert still calls for it and the
         cooldown and rate limit allow; exit 1 when it is unknown, expired, no longer needed or refused.
`;

HELP.audit = AUDIT_HELP;

HELP.export = `Usage: dpmon export KIND [options] [--config PATH]...

Writes files for other tools from the configuration (docs/exports.md). Exit 0 when written, 1 when a
file cannot be written, 2 on bad usage or config.

${Object.entries(EXPORTS).map(([kind, e]) => `dpmon export ${kind} ${e.usage}\n${e.help}`).join('\n')}`;
HELP.db = `Usage: dpmon db install [--target NAME] [--dry-run] [--json] [--config PATH]...
       dpmon db uninstall [--target NAME] [--config PATH]...
       dpmon db status [--target NAME] [--json] [--config PATH]...

Manages what dpmon keeps inside a target database, in schema monitoring (docs/query-analysis.md):
monitoring.slow_queries, the spec's materialized view of statements whose mean time is over
database_metrics.query_performance.slow_query_threshold (1000 ms), which dpmon refreshes every
slow_queries_refresh (1m) with REFRESH MATERIALIZED VIEW CONCURRENTLY.
Connects with the target's DSN, as dpmon does; --target may be left out when one target is configured.

install:   checks what the role may do and what the server has (pg_stat_statements loaded and created,
           CREATE on the database, pg_monitor), prints each missing piece with the command that fixes it,
           and creates or updates what it can. Idempotent. --dry-run prints the SQL without running it.
uninstall: removes dpmon's objects; the schema goes too when nothing else is in it.
status:    what is installed, with which settings, when it was last refreshed, and what is missing.
Exit 0 when done (status: everything installed and current), 1 when something is missing or failed,
2 on bad usage.
`;

HELP.queries = `${QUERIES_HELP}
dpmon queries advice [--target NAME] [--json] [--server-log PATH]
advice: reads one target's catalog statistics once and prints what a DBA would act on, each finding with
its evidence, a confidence and the SQL to run (docs/query-analysis.md, "Advice"): missing indexes (checked
with HypoPG where it is created), unused and duplicate indexes, stale statistics, table and index bloat,
transaction-ID wraparound, sessions idle in a transaction, deadlocks and the server log's deadlock reports.
Connects with the target's DSN, as dpmon does; --target may be left out when one target is configured.

Options:
  --target NAME      the configured target
  --json             the report as JSON (as GET /api/dpmon/advice serves it)
  --server-log PATH  the server's log file (stderr format, or csvlog when it ends in .csv), for the
                     deadlock reports (else pg_current_logfile(),
                     when logging_collector writes one and the role may read server files)
Exit 0 when the report is printed, 1 when the target cannot be reached or a check failed, 2 on bad usage.
`;

const OPTIONS = {
  config: { type: 'string', multiple: true },
  listen: { type: 'string' },
  'data-dir': { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
  by: { type: 'string' },
  comment: { type: 'string' },
  out: { type: 'string' },
  tests: { type: 'string' },
  'secrets-dir': { type: 'string' },
  target: { type: 'string' },
  'dry-run': { type: 'boolean' },
  since: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
  order: { type: 'string' },
  'server-log': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`dpmon: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  const [command, sub] = positionals;
  if (!command) {
    process.stdout.write(USAGE);
    return values.help ? EXIT_OK : EXIT_USAGE;
  }
  if (values.help) {
    const text = HELP[command];
    if (!text) return unknownCommand(command);
    process.stdout.write(text);
    return EXIT_OK;
  }
  switch (command) {
    case 'start':
      return start(values);
    case 'check-config': {
      const loaded = load(values.config);
      if (!loaded) return EXIT_USAGE;
      for (const w of loaded.warnings) process.stderr.write(`warning: ${formatConfigIssue(w)}\n`);
      process.stdout.write(`config OK (${loaded.sources.length ? loaded.sources.join(', ') : 'built-in defaults'})\n`);
      return EXIT_OK;
    }
    case 'config': {
      if (sub !== 'print') {
        process.stderr.write(`dpmon: unknown "config ${sub ?? ''}"; did you mean "config print"?\n`);
        return EXIT_USAGE;
      }
      const loaded = load(values.config);
      if (!loaded) return EXIT_USAGE;
      process.stdout.write(printConfig(loaded));
      return EXIT_OK;
    }
    case 'alerts':
      return alerts(values);
    case 'ack':
      return ack(sub, values);
    case 'remediation':
      return remediation(sub, positionals[2], values);
    case 'export':
      return runExport(sub, values);
    case 'db':
      return db(sub, values);
    case 'audit': {
      // the data directory of the config unless given: dpmon need not be running
      let dataDir = values['data-dir'];
      if (dataDir === undefined) {
        const loaded = load(values.config);
        if (!loaded) return EXIT_USAGE;
        dataDir = loaded.config.storage.dataDir;
      }
      return runAuditCommand(sub, { ...values, dataDir, stdout: writeStdout, stderr: (t) => process.stderr.write(t) });
    }
    case 'queries': {
      // advice reads a target itself (its DSN, as dpmon does); the others ask the running instance
      if (sub === 'advice') return queries(sub, values);
      if (sub === undefined || !Object.hasOwn(QUERIES_COMMANDS, sub)) {
        process.stderr.write(`dpmon: queries needs ${[...Object.keys(QUERIES_COMMANDS), 'advice'].join(', ')}\n\n${HELP.queries}`);
        return EXIT_USAGE;
      }
      const base = instanceUrl(values);
      if (!base) return EXIT_USAGE;
      return runQueriesCommand(sub, { ...values, base, args: positionals.slice(2), out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
    }
    default:
      return unknownCommand(command);
  }
}

async function db(sub: string | undefined, values: { target?: string; 'dry-run'?: boolean; json?: boolean; config?: string[] }): Promise<number> {
  if (sub !== 'install' && sub !== 'uninstall' && sub !== 'status') {
    process.stderr.write(`dpmon: db needs install, uninstall or status\n\n${HELP.db}`);
    return EXIT_USAGE;
  }
  const loaded = load(values.config);
  if (!loaded) return EXIT_USAGE;
  const target = chooseTarget(loaded.config, values.target);
  if (typeof target === 'string') {
    process.stderr.write(`dpmon: ${target}\n`);
    return EXIT_USAGE;
  }
  return runDbCommand(sub, loaded.config, target, {
    dryRun: values['dry-run'],
    json: values.json,
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
}

// the lead folds this into the queries dispatcher (src/queries/cli.ts) beside top and show
async function queries(sub: string | undefined, values: { target?: string; json?: boolean; 'server-log'?: string; config?: string[] }): Promise<number> {
  if (sub !== 'advice') {
    process.stderr.write(`dpmon: queries needs advice\n\n${HELP.queries}`);
    return EXIT_USAGE;
  }
  const loaded = load(values.config);
  if (!loaded) return EXIT_USAGE;
  const target = chooseTarget(loaded.config, values.target);
  if (typeof target === 'string') {
    process.stderr.write(`dpmon: ${target}\n`);
    return EXIT_USAGE;
  }
  return runAdviceCommand(loaded.config, target, {
    json: values.json,
    ...(values['server-log'] !== undefined ? { serverLog: values['server-log'] } : {}),
    clock: systemClock,
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
}

/** The base URL of the running instance: --url, else server.listen of the config. */
function instanceUrl(values: { url?: string; config?: string[] }): string | undefined {
  if (values.url) return values.url.replace(/\/+$/, '');
  const loaded = load(values.config);
  if (!loaded) return undefined;
  const { host, port, tls } = loaded.config.server;
  return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function ack(fingerprint: string | undefined, values: { url?: string; by?: string; comment?: string; config?: string[] }): Promise<number> {
  if (!fingerprint) {
    process.stderr.write(`dpmon: ack needs the FINGERPRINT of an alert\n\n${HELP.ack}`);
    return EXIT_USAGE;
  }
  const base = instanceUrl(values);
  if (!base) return EXIT_USAGE;
  const token = process.env.DPMON_AUTH_TOKEN ?? (values.config ? load(values.config)?.config.server.authToken : undefined);
  try {
    const res = await fetch(`${base}/api/dpmon/alerts/${encodeURIComponent(fingerprint)}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ by: values.by ?? process.env.USER ?? 'cli', comment: values.comment ?? '' }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { error?: string; data?: { incidentId: string; level: number; responder: string; rootCause?: string } };
    if (!res.ok) {
      process.stderr.write(`dpmon: ack refused (HTTP ${res.status}): ${body.error ?? ''}\n`);
      return EXIT_RUNTIME;
    }
    process.stdout.write(`acknowledged incident ${body.data!.incidentId} at level ${body.data!.level} (${body.data!.responder})${body.data!.rootCause ? `: ${body.data!.rootCause}` : ''}\n`);
    return EXIT_OK;
  } catch (err) {
    process.stderr.write(`dpmon: cannot reach ${base}: ${(err as Error).message}\n`);
    return EXIT_RUNTIME;
  }
}

async function remediation(sub: string | undefined, id: string | undefined, values: { url?: string; by?: string; json?: boolean; config?: string[] }): Promise<number> {
  if (sub !== 'list' && sub !== 'approve') {
    process.stderr.write(`dpmon: remediation needs list or approve\n\n${HELP.remediation}`);
    return EXIT_USAGE;
  }
  if (sub === 'approve' && !id) {
    process.stderr.write(`dpmon: remediation approve needs the ID of a pending plan\n`);
    return EXIT_USAGE;
  }
  const base = instanceUrl(values);
  if (!base) return EXIT_USAGE;
  const token = process.env.DPMON_AUTH_TOKEN ?? (values.config ? load(values.config)?.config.server.authToken : undefined);
  try {
    if (sub === 'approve') {
      const res = await fetch(`${base}/api/dpmon/remediations/${encodeURIComponent(id!)}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ by: values.by ?? process.env.USER ?? 'cli' }),
        signal: AbortSignal.timeout(150_000),
      });
      const body = (await res.json()) as { error?: string; outcome?: string };
      if (!res.ok) {
        // approved but not run (no longer needed, or a guard said no) reads as what it is
        const what = body.outcome === 'not_needed' || body.outcome === 'refused' ? `${id} not executed` : 'approval refused';
        process.stderr.write(`dpmon: ${what} (HTTP ${res.status}): ${body.error ?? ''}\n`);
        return EXIT_RUNTIME;
      }
      process.stdout.write(`approved and executed ${id}\n`);
      return EXIT_OK;
    }
    const res = await fetch(`${base}/api/dpmon/remediations`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { data: { pending: { id: string; rule: string; target?: string; expiresAt: string }[]; events: { at: string; kind: string; target?: string; subject?: string; details: Record<string, unknown> }[] } };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return EXIT_OK;
    }
    for (const p of body.data.pending) process.stdout.write(`PENDING  ${p.id}  ${p.rule}  target=${p.target ?? 'host'}  expires ${p.expiresAt}\n`);
    for (const e of body.data.events) {
      const d = e.details;
      const extra = [d.action, d.before ? `before=${JSON.stringify(d.before)}` : '', d.after ? `after=${JSON.stringify(d.after)}` : '', d.reason ?? d.error ?? ''].filter(Boolean).join(' ');
      process.stdout.write(`${e.at}  ${e.kind.replace(/^remediation\./, '').padEnd(17)} ${(e.target ?? 'host').padEnd(10)} ${e.subject ?? ''}  ${extra}\n`);
    }
    if (!body.data.pending.length && !body.data.events.length) process.stdout.write('no remediation recorded\n');
    return EXIT_OK;
  } catch (err) {
    process.stderr.write(`dpmon: cannot reach ${base}: ${(err as Error).message}\n`);
    return EXIT_RUNTIME;
  }
}

async function alerts(values: { url?: string; json?: boolean; config?: string[] }): Promise<number> {
  const base = instanceUrl(values);
  if (!base) return EXIT_USAGE;
  let body: { data?: { alerts?: { labels: Record<string, string>; annotations: Record<string, string>; state: string; activeAt: string; value: string }[] } };
  try {
    const res = await fetch(`${base}/api/v1/alerts`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (err) {
    process.stderr.write(`dpmon: cannot read alerts from ${base}: ${(err as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return EXIT_OK;
  }
  const list = body.data?.alerts ?? [];
  if (!list.length) {
    process.stdout.write('no pending or firing alerts\n');
    return EXIT_OK;
  }
  const rows = list
    .sort((a, b) => a.state.localeCompare(b.state) || a.activeAt.localeCompare(b.activeAt))
    .map((a) => {
      const { alertname = '', severity = '', ...rest } = a.labels;
      return [a.state, alertname, severity, a.activeAt, String(Number(a.value)), Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(','), a.annotations.summary ?? ''];
    });
  const header = ['STATE', 'ALERT', 'SEVERITY', 'ACTIVE SINCE', 'VALUE', 'LABELS', 'SUMMARY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) process.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
  return EXIT_OK;
}

async function runExport(kind: string | undefined, values: { config?: string[]; out?: string; tests?: string; 'secrets-dir'?: string }): Promise<number> {
  const e = kind === undefined ? undefined : EXPORTS[kind];
  if (!e) {
    process.stderr.write(`dpmon: export needs one of ${Object.keys(EXPORTS).join(', ')}${kind ? `, not "${kind}"` : ''}\n\n${HELP.export}`);
    return EXIT_USAGE;
  }
  const loaded = load(values.config);
  if (!loaded) return EXIT_USAGE;
  try {
    const writes: Promise<void>[] = [];
    const notes = await e.run(loaded.config, { out: values.out, tests: values.tests, secretsDir: values['secrets-dir'] }, (text) => void writes.push(writeStdout(text)));
    await Promise.all(writes);
    for (const n of notes) process.stderr.write(`${n}\n`);
    return EXIT_OK;
  } catch (err) {
    process.stderr.write(`dpmon: export ${kind} failed: ${(err as Error).message}\n`);
    // a file that cannot be written is a runtime failure; an option missing its partner is bad usage
    return err instanceof ExportUsageError ? EXIT_USAGE : EXIT_RUNTIME;
  }
}

/** Resolves once the text is handed to stdout: a pipe is written asynchronously, and main exits right after. */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (err) => (err ? reject(err) : resolve())));
}

function unknownCommand(command: string): number {
  process.stderr.write(`dpmon: unknown command "${command}"\n\n${USAGE}`);
  return EXIT_USAGE;
}

/** Loads the config or prints every error and returns undefined. */
function load(paths: string[] | undefined): LoadedConfig | undefined {
  const r = loadCheckedConfig(paths ?? []);
  if ('loaded' in r) return r.loaded;
  for (const line of r.errors) process.stderr.write(`${line}\n`);
  process.stderr.write(`dpmon: ${r.errors.length} configuration error(s); nothing started\n`);
  return undefined;
}

async function start(values: { config?: string[]; listen?: string; 'data-dir'?: string }): Promise<number> {
  const loaded = load(values.config);
  if (!loaded) return EXIT_USAGE;
  let listen;
  if (values.listen !== undefined) {
    listen = parseListen(values.listen);
    if (!listen) {
      process.stderr.write(`dpmon: --listen "${values.listen}" is not HOST:PORT\n`);
      return EXIT_USAGE;
    }
    if (!isLoopbackHost(listen.host) && !loaded.config.server.authToken) {
      process.stderr.write(`dpmon: --listen ${values.listen} is not a loopback address and server.auth_token is not set\n`);
      return EXIT_USAGE;
    }
  }
  const log = createLogger();
  for (const w of loaded.warnings) log.warn({ config: formatConfigIssue(w), code: w.code }, 'config warning');
  // a reload (SIGHUP, POST /-/reload) re-reads the same paths; a bad config is refused and the old one keeps running
  // the coordinator reports each reload to the audit trail, which the app opens: bound once the app exists
  let recordReload: (r: { ok: true; changed: readonly string[] } | { ok: false; errors: number }) => void = () => {};
  const coordinator = createConfigCoordinator({
    paths: values.config ?? [],
    initial: loaded.config,
    initialPrinted: printConfig(loaded),
    initialLoaded: loaded,
    onReload: (r) => recordReload(r),
    log,
  });
  const app = createApp(loaded.config, { log, listen, dataDir: values['data-dir'], reloadConfig: coordinator.reload, configStatus: coordinator });
  coordinator.subscribe((config) => app.reload(config));
  recordReload = (r) =>
    app.record({
      kind: 'dpmon.config_reload',
      actor: 'dpmon',
      outcome: r.ok ? 'success' : 'failure',
      level: r.ok ? 'INFO' : 'WARNING',
      details: r.ok ? { changed: r.changed, sources: loaded.sources } : { errors: r.errors },
    });
  process.on('SIGHUP', () => void coordinator.reload());
  const starting = app.start();
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      // a signal during start (initdb takes seconds) waits for start to finish, then stops what it built
      starting
        .catch(() => {})
        .then(() => app.stop())
        .then(
          () => resolve(EXIT_OK),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            resolve(EXIT_RUNTIME);
          },
        );
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  try {
    await starting;
  } catch (err) {
    log.fatal({ err }, 'dpmon failed to start');
    await app.stop().catch(() => {});
    return EXIT_RUNTIME;
  }
  return stopped;
}

// Exit explicitly: a pg client's reconnect timer or a library's handle must not keep a finished command alive.
process.exit(await main(process.argv.slice(2)));
