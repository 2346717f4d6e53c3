// `process_priority: dynamic` (system_metrics.resource_monitoring.cpu_usage.remediation): while the
// CPU is over its threshold, the processes of the `background_tasks` process group run at a lower
// priority (nice +10 by default); a second action, run when the CPU is back under the threshold (or
// after cooling_period), puts back the priorities they had.
//
// Processes are matched as the `processes` collector does (src/collect/host/processes.ts): a process
// belongs to the first configured group whose comm, command line or user matcher matches it, so a
// process the `database` group claims first is never a background task. Never reniced, whatever the
// matchers say: PID 1, kernel threads (no command line), dpmon itself and its parent, and PostgreSQL
// or pgbouncer processes (by comm, executable and command line: a backend's title is `postgres: …`).
// Linux keeps a nice value per thread, so every thread of a process is reniced (util-linux `renice -p`
// would change only the main thread); the old value is kept per thread.
// Only processes whose nice is below the target are changed, so a task already running at +15 is not
// raised to +10. The old priorities live in memory (a dpmon restart forgets them; the audit trail's
// steps still show them); restore changes a thread back only if its nice is still the one we set, so
// an operator's later renice is not undone, and skips processes whose PID was reused (start time).
import { readFile, readdir, readlink } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { basename, join } from 'node:path';
import type { ProcessGroupConfig } from '../../config/schema.ts';
import { pause } from '../../lib/clock.ts';
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep } from '../types.ts';
import { compileRegex, SEARCH } from '../../model/regex.ts';
import type { Config } from '../../config/index.ts';
import type { ActionDefinition } from '../types.ts';

export interface ReniceBackgroundOptions {
  /** registry names; default renice_background and restore_background_priority */
  readonly name?: string;
  readonly restoreName?: string;
  /** every configured process group, in order (cpu_usage.collection.process_groups) */
  readonly groups: readonly ProcessGroupConfig[];
  /** the group to renice; default background_tasks */
  readonly group?: string;
  /** the nice value background tasks get, 1-19; default 10 */
  readonly nice?: number;
  /** percent of CPU busy; the trigger's threshold takes precedence */
  readonly threshold?: number;
  /** how long the CPU is sampled (from /proc/stat) for the before/after figures; default 500 ms */
  readonly sampleMs?: number;
  /** comm, executable names and command-line starts never reniced; default postgres, postmaster, pgbouncer */
  readonly protectedNames?: readonly string[];
  readonly procPath?: string;
  readonly passwdPath?: string;
}

interface ThreadNice {
  readonly tid: number;
  readonly oldNice: number;
}

/** A process as a step carries it: identity (pid and start time) and the threads' priorities before. */
interface ProcRef {
  readonly pid: number;
  readonly starttime: string;
  readonly comm: string;
  readonly nice: number;
  readonly threads: readonly ThreadNice[];
}

interface ProcStep extends PlannedStep {
  readonly proc: ProcRef;
}

export interface ReniceBackgroundActions {
  readonly renice: Action;
  readonly restore: Action;
  /** the processes reniced and not yet restored */
  reniced(): readonly ProcRef[];
}

interface TaskStat {
  comm: string;
  nice: number;
  starttime: string;
}

/** Fields of /proc/PID[/task/TID]/stat we need, counted from the last `)` as the comm may hold spaces. */
function parseStat(text: string): TaskStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  if (rest.length < 20) return null;
  // rest[0] is field 3; nice is field 19, starttime field 22
  return { comm: text.slice(open + 1, close), nice: Number(rest[16]), starttime: rest[19] as string };
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'latin1');
  } catch {
    return null;
  }
}

export function createReniceBackgroundActions(opts: ReniceBackgroundOptions): ReniceBackgroundActions {
  const name = opts.name ?? 'renice_background';
  const restoreName = opts.restoreName ?? 'restore_background_priority';
  const groupName = opts.group ?? 'background_tasks';
  const nice = opts.nice ?? 10;
  if (!Number.isInteger(nice) || nice < 1 || nice > 19) throw new RangeError(`${name}: the nice value must be an integer from 1 to 19, got ${nice}`);
  if (!opts.groups.some((g) => g.name === groupName)) throw new RangeError(`${name}: no process group named "${groupName}" is configured`);
  const procPath = opts.procPath ?? '/proc';
  const passwdPath = opts.passwdPath ?? '/etc/passwd';
  const sampleMs = opts.sampleMs ?? 500;
  const protectedNames = new Set(opts.protectedNames ?? ['postgres', 'postmaster', 'pgbouncer']);
  const matchers = opts.groups.map((g) => ({ name: g.name, comm: g.comm.map((s) => compileRegex(s, SEARCH)), cmdline: g.cmdline.map((s) => compileRegex(s, SEARCH)), user: g.user.map((s) => compileRegex(s, SEARCH)) }));
  const never = new Set([1, process.pid, process.ppid]);
  /** pid:starttime → what we changed */
  const state = new Map<string, ProcRef>();

  async function users(): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const line of ((await readOrNull(passwdPath)) ?? '').split('\n')) {
      const f = line.split(':');
      if (f[0] && f[2]) m.set(f[2], f[0]);
    }
    return m;
  }

  /** Why a process may never be reniced, or null. */
  async function protectedWhy(pid: number, comm: string, cmdline: string): Promise<string | null> {
    if (never.has(pid)) return pid === 1 ? 'PID 1' : 'dpmon itself';
    if (cmdline === '') return 'a kernel thread';
    if (protectedNames.has(comm)) return `a ${comm} process`;
    const first = cmdline.split(/[\s:]/)[0] ?? '';
    if (protectedNames.has(basename(first))) return `a ${basename(first)} process`;
    const exe = await readlink(join(procPath, String(pid), 'exe')).catch(() => '');
    if (protectedNames.has(basename(exe.replace(/ \(deleted\)$/, '')))) return `a ${basename(exe)} process`;
    return null;
  }

  /** The current threads of a process with their nice values. */
  async function threadsOf(pid: number): Promise<{ tid: number; nice: number }[]> {
    const out: { tid: number; nice: number }[] = [];
    let tids: string[];
    try {
      tids = await readdir(join(procPath, String(pid), 'task'));
    } catch {
      return out;
    }
    for (const t of tids) {
      const s = parseStat((await readOrNull(join(procPath, String(pid), 'task', t, 'stat'))) ?? '');
      if (s) out.push({ tid: Number(t), nice: s.nice });
    }
    return out;
  }

  async function cmdlineOf(pid: number): Promise<string | null> {
    const raw = await readOrNull(join(procPath, String(pid), 'cmdline'));
    return raw === null ? null : raw.replace(/\0+$/, '').replace(/\0/g, ' ');
  }

  /** The processes now in the group, with their stat; protected ones left out (and counted). */
  async function members(): Promise<{ found: { pid: number; stat: TaskStat }[]; protectedCount: number }> {
    const found: { pid: number; stat: TaskStat }[] = [];
    let protectedCount = 0;
    let userMap: Map<string, string> | undefined;
    const pids = (await readdir(procPath)).filter((n) => /^\d+$/.test(n)).map(Number);
    for (const pid of pids) {
      const stat = parseStat((await readOrNull(join(procPath, String(pid), 'stat'))) ?? '');
      if (!stat) continue;
      const cmdline = await cmdlineOf(pid);
      if (cmdline === null) continue;
      let user: string | undefined;
      let group: string | null = null;
      for (const m of matchers) {
        if (m.comm.some((r) => r.test(stat.comm)) || (m.cmdline.length > 0 && m.cmdline.some((r) => r.test(cmdline)))) {
          group = m.name;
          break;
        }
        if (m.user.length > 0) {
          if (user === undefined) {
            const uid = /^Uid:\s+\d+\s+(\d+)/m.exec((await readOrNull(join(procPath, String(pid), 'status'))) ?? '')?.[1] ?? '';
            user = (userMap ??= await users()).get(uid) ?? uid;
          }
          const u = user;
          if (m.user.some((r) => r.test(u))) {
            group = m.name;
            break;
          }
        }
      }
      if (group !== groupName) continue;
      if (await protectedWhy(pid, stat.comm, cmdline)) {
        protectedCount++;
        continue;
      }
      found.push({ pid, stat });
    }
    return { found, protectedCount };
  }

  /** Percent of CPU time busy over sampleMs, from the `cpu` line of /proc/stat. */
  async function cpuBusyPct(ctx: ActionContext): Promise<number> {
    const read = async () => {
      const f = ((await readOrNull(join(procPath, 'stat'))) ?? '').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
      const idle = (f[3] ?? 0) + (f[4] ?? 0);
      // guest time is already counted in user
      const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
      return { idle, total };
    };
    const a = await read();
    await pause(ctx.clock, sampleMs, ctx.signal);
    const b = await read();
    const dt = b.total - a.total;
    return dt > 0 ? Math.round((1 - (b.idle - a.idle) / dt) * 10_000) / 100 : 0;
  }

  const procSteps = (plan: ActionPlan): ProcStep[] =>
    plan.steps.map((s) => {
      const p = (s as Partial<ProcStep>).proc;
      if (!p || typeof p.pid !== 'number' || typeof p.starttime !== 'string' || !Array.isArray(p.threads)) {
        throw new Error(`plan step "${s.command}" does not name the process it was planned for: plan it again`);
      }
      return s as ProcStep;
    });

  /** Null when the pid still is the planned process (same start time), else why not. */
  async function sameProcess(p: ProcRef): Promise<string | null> {
    const stat = parseStat((await readOrNull(join(procPath, String(p.pid), 'stat'))) ?? '');
    if (!stat) return `process ${p.pid} (${p.comm}) has exited`;
    if (stat.starttime !== p.starttime) return `process ${p.pid} has exited and its PID was reused`;
    return null;
  }

  const renice: Action = {
    name,
    kind: 'process',
    async plan(trigger, ctx): Promise<ActionPlan> {
      const threshold = trigger.threshold ?? opts.threshold;
      const busy = await cpuBusyPct(ctx);
      const { found, protectedCount } = await members();
      const steps: ProcStep[] = [];
      for (const { pid, stat } of found) {
        const threads = (await threadsOf(pid)).filter((t) => t.nice < nice);
        if (threads.length === 0) continue;
        const tids = threads.map((t) => t.tid);
        steps.push({
          description: `lower the priority of ${stat.comm} (pid ${pid}${tids.length > 1 ? `, ${tids.length} threads` : ''}) from nice ${threads[0]?.nice} to ${nice}`,
          command: `renice -n ${nice} -p ${tids.join(' ')}`,
          proc: { pid, starttime: stat.starttime, comm: stat.comm, nice, threads: threads.map((t) => ({ tid: t.tid, oldNice: t.nice })) },
        });
      }
      const before = {
        cpu_busy_pct: busy,
        group_processes: found.length,
        protected_processes: protectedCount,
        ...(threshold !== undefined ? { threshold_pct: threshold } : {}),
      };
      ctx.signal.throwIfAborted();
      if (threshold !== undefined && busy < threshold) return { action: name, steps: [], before, reason: `CPU is ${busy}% busy, under the threshold of ${threshold}%` };
      if (steps.length === 0) return { action: name, steps: [], before, reason: `no ${groupName} process runs at a priority above nice ${nice}` };
      return { action: name, steps, before };
    },

    async execute(plan, ctx): Promise<ActionOutcome> {
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      for (const step of procSteps(plan)) {
        if (ctx.signal.aborted) break;
        const p = step.proc;
        const gone = await sameProcess(p);
        const cmdline = gone ? null : await cmdlineOf(p.pid);
        const why = gone ?? (cmdline === null ? `process ${p.pid} has exited` : await protectedWhy(p.pid, p.comm, cmdline));
        if (why) {
          failed.push({ step, error: gone ? why : `process ${p.pid} is ${why}: never reniced` });
          continue;
        }
        const key = `${p.pid}:${p.starttime}`;
        const prior = state.get(key);
        const changed: ThreadNice[] = [...(prior?.threads ?? [])];
        const errors: string[] = [];
        for (const t of p.threads) {
          try {
            setPriority(t.tid, p.nice);
            // a thread reniced earlier keeps its first old value
            if (!changed.some((c) => c.tid === t.tid)) changed.push(t);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ESRCH') errors.push(`thread ${t.tid}: ${(err as Error).message}`);
          }
        }
        if (changed.length > 0) state.set(key, { ...p, threads: changed });
        if (errors.length > 0) failed.push({ step, error: errors.join('; ') });
        else done.push(step);
      }
      const busy = await cpuBusyPct(ctx);
      ctx.log.info({ action: name, reniced: done.length, failed: failed.length }, 'background tasks reniced');
      return { ok: failed.length === 0, done, failed, after: { cpu_busy_pct: busy, processes_reniced: done.length } };
    },
  };

  const restore: Action = {
    name: restoreName,
    kind: 'process',
    async plan(trigger, ctx): Promise<ActionPlan> {
      const threshold = trigger.threshold ?? opts.threshold;
      const busy = await cpuBusyPct(ctx);
      const steps: ProcStep[] = [];
      for (const [key, p] of state) {
        if (await sameProcess(p)) {
          state.delete(key);
          continue;
        }
        const now = await threadsOf(p.pid);
        // only threads still at the value we set: an operator's renice since then stands
        const threads = p.threads.filter((t) => now.some((n) => n.tid === t.tid && n.nice === p.nice));
        if (threads.length === 0) {
          state.delete(key);
          continue;
        }
        const olds = [...new Set(threads.map((t) => t.oldNice))];
        steps.push({
          description: `restore the priority of ${p.comm} (pid ${p.pid}) from nice ${p.nice} to ${olds.join('/')}`,
          command: olds.map((o) => `renice -n ${o} -p ${threads.filter((t) => t.oldNice === o).map((t) => t.tid).join(' ')}`).join(' && '),
          proc: { ...p, threads },
        });
      }
      const before = { cpu_busy_pct: busy, processes_reniced: state.size, ...(threshold !== undefined ? { threshold_pct: threshold } : {}) };
      ctx.signal.throwIfAborted();
      if (threshold !== undefined && busy >= threshold) return { action: restoreName, steps: [], before, reason: `CPU is still ${busy}% busy, at or over the threshold of ${threshold}%` };
      if (steps.length === 0) return { action: restoreName, steps: [], before, reason: 'no reniced process to restore' };
      return { action: restoreName, steps, before };
    },

    async execute(plan, ctx): Promise<ActionOutcome> {
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      for (const step of procSteps(plan)) {
        if (ctx.signal.aborted) break;
        const p = step.proc;
        const key = `${p.pid}:${p.starttime}`;
        const gone = await sameProcess(p);
        if (gone) {
          state.delete(key);
          done.push(step); // nothing left to restore
          continue;
        }
        const now = await threadsOf(p.pid);
        const errors: string[] = [];
        for (const t of p.threads) {
          if (!now.some((n) => n.tid === t.tid && n.nice === p.nice)) continue;
          try {
            setPriority(t.tid, t.oldNice);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ESRCH') errors.push(`thread ${t.tid}: ${(err as Error).message}`);
          }
        }
        if (errors.length > 0) failed.push({ step, error: errors.join('; ') });
        else {
          const rec = state.get(key);
          const left = rec?.threads.filter((t) => !p.threads.some((x) => x.tid === t.tid)) ?? [];
          if (left.length > 0 && rec) state.set(key, { ...rec, threads: left });
          else state.delete(key);
          done.push(step);
        }
      }
      const busy = await cpuBusyPct(ctx);
      ctx.log.info({ action: restoreName, restored: done.length, failed: failed.length }, 'background task priorities restored');
      return { ok: failed.length === 0, done, failed, after: { cpu_busy_pct: busy, processes_reniced: state.size } };
    },
  };

  return { renice, restore, reniced: () => [...state.values()] };
}

/** renice_background and its restore, over the cpu collection's process groups */
export const reniceBackgroundAction: ActionDefinition = {
  specNames: { process_priority: 'renice_background' },
  build(config: Config) {
    const renice = createReniceBackgroundActions({ groups: config.systemMetrics.resourceMonitoring.cpuUsage.collection.processGroups });
    return [renice.renice, renice.restore];
  },
};
