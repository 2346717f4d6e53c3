// Helpers for tests that start dpmon itself, or a peer program, as a real process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export { freePort } from '../../src/lib/net.ts';

export interface DpmonProcess {
  readonly child: ChildProcess;
  /** everything written to stdout and stderr so far */
  output(): string;
  /** resolves with the exit code */
  readonly exited: Promise<number | null>;
}

/** Starts `dpmon ARGS...` from the source tree; env replaces the inherited DATABASE_URL unless given. */
export function runDpmon(args: string[], env: NodeJS.ProcessEnv = {}): DpmonProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Runs `dpmon ARGS...` to completion. */
export function runDpmonSync(args: string[], env: NodeJS.ProcessEnv = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: repoRoot,
    env: childEnv,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * runDpmonSync without blocking this process: for a CLI that asks an API served by the test itself
 * (a synchronous child would wait on a server that cannot answer).
 */
export async function runDpmonToEnd(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = runDpmon(args, env);
  let stdout = '';
  let stderr = '';
  p.child.stdout!.on('data', (d) => (stdout += d));
  p.child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => p.child.on('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}

/** Polls fn until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: lastError });
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Finds a peer program on PATH. Missing: the test is skipped with a plain reason on a developer's
 * machine, and fails in CI (CI=true), where .ci/run installs every peer.
 */
export function requirePeer(program: string, t: { skip(reason: string): void }): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (path) return path;
  const reason = `${program} is not installed (Debian package; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`${reason}: required in CI`);
  t.skip(reason);
  return undefined;
}

/** Runs `promtool check metrics` on exposition text: the metric names it lints, and any parse error. */
export function promtoolCheckMetrics(promtool: string, text: string): { lintedNames: string[]; parseError?: string; raw: string } {
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const raw = `${r.stdout}${r.stderr}`;
  const lintedNames: string[] = [];
  let parseError: string | undefined;
  for (const line of raw.split('\n')) {
    if (!line.trim()) continue;
    // promtool 2.42 prints "name message" per finding and "error while linting: ..." on a parse error
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*):? (?!while linting)/.exec(line);
    if (line.startsWith('error while linting')) {
      parseError = (parseError ? parseError + '\n' : '') + line;
      continue;
    }
    if (m) lintedNames.push(m[1]!);
    else parseError = (parseError ? parseError + '\n' : '') + line;
  }
  return { lintedNames: [...new Set(lintedNames)], parseError, raw };
}
