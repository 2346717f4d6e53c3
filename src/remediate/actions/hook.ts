// Hook actions: the explicit, documented way to effects outside dpmon that the spec names but dpmon
// cannot perform itself — scaling a VM or a pool of replicas, restarting a service, a load balancer,
// an application's caches or garbage collector (scale_compute, auto_scale, scale_resources,
// load_balancing, network_optimization, replica_resources, sync_priority, auto_restart,
// archive_old_data, clear_caches, adjust_buffer_pools, gc_trigger, swap_prevention, cache_adjustment,
// notify_stakeholders when it is not routed to a receiver). One hook per action name, either
//   - a command: run without a shell (spawn with an argument array, as execFile does), with a small
//     environment (PATH, HOME, LANG, the configured `env`) plus the trigger as DPMON_* variables,
//     a timeout, stdout and stderr captured and truncated; or
//   - a webhook: the trigger POSTed as JSON with the notifiers' shared HTTP check (src/notify/integrations/http.ts).
// No hook configured: the plan is empty with the reason "no hook configured for X", which the engine
// records as skipped. A command that exits non-zero, cannot start or outlives its timeout, and a
// webhook that fails or does not answer, are failed outcomes, never exceptions.
// Why not execFile itself: its timeout kills only the direct child, and a grandchild (the `sleep` of a
// shell script) keeps the output pipes open, so it would never return. The hook runs in its own
// process group instead, and the whole group gets SIGTERM at the timeout, SIGKILL after a grace.
// Why not dpmon's whole environment: it may hold DATABASE_URL or tokens the hook has no use for.
// Whatever a hook prints or answers goes to the audit trail and the API, so it is first passed
// through the hook's secrets (hookScrubber): a script run with `set -x` prints its token, and a
// receiver may echo the request's headers back.
import { spawn } from 'node:child_process';
import { postJson, redactor } from '../../notify/integrations/http.ts';
import { clockTimeout, systemClock, type Clock, type ClockTimeout } from '../../lib/clock.ts';
import type { Action, ActionOutcome, ActionPlan, PlannedStep, RemediationTrigger } from '../types.ts';
import { shellQuote } from '../paths.ts';

export interface CommandHook {
  /** program and arguments; the program is best given as an absolute path */
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** default 30 s */
  readonly timeoutMs?: number;
}

export interface WebhookHook {
  /** http(s) URL; never written to the audit trail (it may carry a token) */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** default 10 s */
  readonly timeoutMs?: number;
}

export type HookConfig = CommandHook | WebhookHook;

export interface HookActionOptions {
  /** the spec's action name, e.g. scale_compute */
  readonly name: string;
  /** undefined: not configured, the action is skipped with a reason */
  readonly hook?: HookConfig;
  /** bytes kept of stdout and of stderr each; default 4096 */
  readonly maxOutputBytes?: number;
  /** between SIGTERM and SIGKILL after the timeout; default 2 s */
  readonly killGraceMs?: number;
}

interface HookStep extends PlannedStep {
  /** DPMON_* variables for a command hook */
  readonly env?: Readonly<Record<string, string>>;
  /** the JSON body for a webhook */
  readonly payload?: unknown;
}

const isCommand = (h: HookConfig): h is CommandHook => 'command' in h;

/** The trigger as DPMON_* variables: fixed names, plus one DPMON_LABEL_<NAME> per label. */
export function hookEnv(action: string, trigger: RemediationTrigger, target: string | undefined): Record<string, string> {
  const env: Record<string, string> = {
    DPMON_ACTION: action,
    DPMON_ALERTNAME: trigger.alertname,
    DPMON_FINGERPRINT: trigger.fingerprint,
    DPMON_LABELS: JSON.stringify(trigger.labels),
  };
  if (target !== undefined) env.DPMON_TARGET = target;
  if (trigger.value !== undefined) env.DPMON_VALUE = String(trigger.value);
  if (trigger.threshold !== undefined) env.DPMON_THRESHOLD = String(trigger.threshold);
  for (const [k, v] of Object.entries(trigger.labels)) env[`DPMON_LABEL_${k.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = String(v);
  return env;
}

/** `<scheme> <token>` (`Bearer abc`, `Token abc`): the token alone is as secret as the whole value. */
const SCHEME_TOKEN = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*\s+(\S+)$/;
/** the shortest secret redactor blanks: shorter strings cannot be told apart from text */
const MIN_SECRET = 4;

export interface HookScrubber {
  /** blanks every secret of the hook in a text */
  (text: string): string;
  /** the same for a text cut at its end: the start of a secret cut in two is blanked too */
  cut(text: string): string;
}

/**
 * Blanks a hook's secrets as `<secret>` wherever they appear: every `env` value (command) or header
 * value (webhook), the token part of a value of the form `<scheme> <token>`, the Basic authorization
 * http.ts makes of credentials in the URL, and the URL itself with its path, query and credentials.
 */
export function hookScrubber(hook: HookConfig): HookScrubber {
  const values = Object.values((isCommand(hook) ? hook.env : hook.headers) ?? {});
  const secrets = values.flatMap((v) => {
    const token = SCHEME_TOKEN.exec(v.trim())?.[1];
    return token ? [v, token] : [v];
  });
  let url: string | undefined;
  if (!isCommand(hook)) {
    url = hook.url;
    try {
      const u = new URL(hook.url);
      if (u.username || u.password) {
        const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
        secrets.push(`Basic ${basic}`, basic);
      }
    } catch {
      // refused when the action is built
    }
  }
  const scrub = redactor(secrets, url);
  const needles = [...secrets, ...(url ? [url] : [])].filter((s) => s.length >= MIN_SECRET);
  return Object.assign((text: string) => scrub(text), {
    cut(text: string): string {
      const out = scrub(text);
      // a multi-byte character cut in two decodes as U+FFFD
      const whole = out.replace(/\uFFFD+$/, '');
      for (const s of needles) {
        for (let n = s.length - 1; n >= MIN_SECRET; n--) {
          if (whole.endsWith(s.slice(0, n))) return `${whole.slice(0, whole.length - n)}<secret>`;
        }
      }
      return out;
    },
  });
}

export function createHookAction(opts: HookActionOptions): Action {
  const { name, hook } = opts;
  const maxOutput = opts.maxOutputBytes ?? 4096;
  const killGraceMs = opts.killGraceMs ?? 2000;
  if (hook) {
    if (isCommand(hook)) {
      if (hook.command.length === 0 || !hook.command[0]) throw new RangeError(`hook for ${name}: the command is empty`);
    } else {
      let u: URL;
      try {
        u = new URL(hook.url);
      } catch {
        throw new RangeError(`hook for ${name}: the webhook URL is not a valid URL`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RangeError(`hook for ${name}: the webhook URL is not http(s)`);
    }
    if (hook.timeoutMs !== undefined && !(hook.timeoutMs > 0)) throw new RangeError(`hook for ${name}: the timeout must be positive`);
  }

  return {
    name,
    kind: 'hook',
    async plan(trigger, ctx): Promise<ActionPlan> {
      const before: Record<string, number> = {};
      if (trigger.value !== undefined) before.value = trigger.value;
      if (trigger.threshold !== undefined) before.threshold = trigger.threshold;
      if (!hook) return { action: name, steps: [], before, reason: `no hook configured for ${name}` };
      if (isCommand(hook)) {
        const step: HookStep = {
          description: `run the ${name} hook command with the trigger in DPMON_* variables (timeout ${hook.timeoutMs ?? 30_000} ms)`,
          command: hook.command.map(shellQuote).join(' '),
          env: hookEnv(name, trigger, ctx.target),
        };
        return { action: name, steps: [step], before };
      }
      const origin = new URL(hook.url).origin;
      const step: HookStep = {
        description: `POST the trigger as JSON to the ${name} webhook at ${origin}`,
        command: `POST ${origin}/…`,
        payload: {
          version: 1,
          action: name,
          target: ctx.target ?? null,
          at: new Date(ctx.now).toISOString(),
          trigger: { alertname: trigger.alertname, fingerprint: trigger.fingerprint, labels: trigger.labels, value: trigger.value ?? null, threshold: trigger.threshold ?? null },
        },
      };
      return { action: name, steps: [step], before };
    },

    async execute(plan, ctx): Promise<ActionOutcome> {
      const step = plan.steps[0] as HookStep | undefined;
      if (!hook || !step) {
        return { ok: false, done: [], failed: step ? [{ step, error: `no hook configured for ${name}` }] : [], after: {} };
      }
      const started = ctx.clock.now();
      const scrub = hookScrubber(hook);
      if (isCommand(hook)) {
        const r = await runCommand(hook, { ...(step.env ?? {}) }, { maxOutput, killGraceMs, signal: ctx.signal, scrub, clock: ctx.clock });
        const after = { exit_code: r.code ?? -1, duration_ms: ctx.clock.now() - started };
        const output = [r.stdout && `stdout: ${r.stdout}`, r.stderr && `stderr: ${r.stderr}`].filter(Boolean).join('\n');
        if (r.error) {
          const error = scrub(r.error);
          ctx.log.warn({ action: name, error }, 'remediation hook failed');
          return { ok: false, done: [], failed: [{ step, error: output ? `${error}\n${output}` : error }], after };
        }
        ctx.log.info({ action: name, durationMs: after.duration_ms }, 'remediation hook ran');
        return { ok: true, done: [{ ...step, output } as PlannedStep], failed: [], after };
      }
      try {
        const res = await postJson(hook.url, step.payload ?? {}, { signal: ctx.signal, clock: ctx.clock, timeoutMs: hook.timeoutMs ?? 10_000, headers: hook.headers ?? {}, what: `${name} webhook`, secrets: Object.values(hook.headers ?? {}) });
        // blanked before it is cut, so no secret is cut in two
        return { ok: true, done: [{ ...step, output: truncate(scrub(res.body), maxOutput) } as PlannedStep], failed: [], after: { http_status: res.status, duration_ms: ctx.clock.now() - started } };
      } catch (err) {
        const status = (err as { options?: { status?: number } }).options?.status ?? 0;
        const error = scrub((err as Error).message);
        ctx.log.warn({ action: name, error }, 'remediation webhook failed');
        return { ok: false, done: [], failed: [{ step, error }], after: { http_status: status, duration_ms: ctx.clock.now() - started } };
      }
    },
  };
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** why it failed, or undefined when it exited 0 */
  error?: string;
}

/** Runs a command hook in its own process group; never throws. */
export function runCommand(
  hook: CommandHook,
  triggerEnv: Record<string, string>,
  o: { maxOutput: number; killGraceMs: number; signal: AbortSignal; scrub?: HookScrubber; clock?: Clock },
): Promise<RunResult> {
  const clock = o.clock ?? systemClock;
  const timeoutMs = hook.timeoutMs ?? 30_000;
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TZ']) if (process.env[k] !== undefined) base[k] = process.env[k] as string;
  const env = { ...base, ...hook.env, ...triggerEnv };
  const [file, ...args] = hook.command as [string, ...string[]];

  return new Promise<RunResult>((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let outDropped = 0;
    let errDropped = 0;
    let why: string | undefined;
    let code: number | null = null;
    let settled = false;
    const timers: ClockTimeout[] = [];
    /** runs fn after ms on the clock, unless the hook has finished by then */
    const later = (ms: number, fn: () => void) => {
      if (settled) return;
      const t = clockTimeout(clock, ms);
      t.signal.addEventListener('abort', fn, { once: true });
      timers.push(t);
    };

    const child = spawn(file, args, { env, cwd: hook.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
    // blanked before the note on what was cut, which no secret can match
    const text = (bufs: Buffer[], dropped: number) => {
      const kept = Buffer.concat(bufs).toString('utf8');
      if (dropped === 0) return o.scrub ? o.scrub(kept) : kept;
      return `${o.scrub ? o.scrub.cut(kept) : kept}… (${dropped} more bytes)`;
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) t.clear();
      o.signal.removeEventListener('abort', onAbort);
      resolve({ code, stdout: text(out, outDropped).trim(), stderr: text(err, errDropped).trim(), ...(why ? { error: why } : {}) });
    };
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // the group is gone already
      }
    };
    const stop = (reason: string) => {
      why ??= reason;
      killGroup('SIGTERM');
      later(o.killGraceMs, () => killGroup('SIGKILL'));
    };
    const onAbort = () => stop('the hook was aborted (dpmon is stopping)');

    child.stdout.on('data', (c: Buffer) => {
      const room = o.maxOutput - outLen;
      if (room > 0) out.push(c.subarray(0, room));
      outLen += Math.min(room > 0 ? room : 0, c.length);
      outDropped += Math.max(0, c.length - Math.max(room, 0));
    });
    child.stderr.on('data', (c: Buffer) => {
      const room = o.maxOutput - errLen;
      if (room > 0) err.push(c.subarray(0, room));
      errLen += Math.min(room > 0 ? room : 0, c.length);
      errDropped += Math.max(0, c.length - Math.max(room, 0));
    });
    child.on('error', (e) => {
      why ??= `the hook command ${file} could not be started: ${(e as NodeJS.ErrnoException).code ?? e.message}`;
      finish();
    });
    child.on('exit', (c, sig) => {
      code = c;
      if (!why && c !== 0) why = sig ? `the hook was killed by ${sig}` : `the hook exited with code ${c}`;
      // a descendant that left the group may hold the pipes open: do not wait for it forever
      later(o.killGraceMs, () => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      });
    });
    child.on('close', finish);
    later(timeoutMs, () => stop(`the hook did not finish within ${timeoutMs} ms and was killed`));
    if (o.signal.aborted) onAbort();
    else o.signal.addEventListener('abort', onAbort, { once: true });
  });
}
