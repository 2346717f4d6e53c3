// The audit trail through its real surfaces: `dpmon audit verify|export` as child processes, the
// auditor's script from docs/audit.md run by node on an export, and a batch source killed with SIGKILL.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openStateDb } from '../src/store/state-db.ts';
import { createAuditLog } from '../src/audit/audit-log.ts';
import { freePort, repoRoot, runDpmon, runDpmonSync, waitFor } from './harness/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** the auditor's script, as docs/audit.md shows it */
function docScript(): string {
  const doc = readFileSync(join(repoRoot, 'docs/audit.md'), 'utf8');
  const m = /```js\n(\/\/ verify-audit\.mjs[\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/audit.md shows verify-audit.mjs');
  const path = join(dir, 'verify-audit.mjs');
  writeFileSync(path, m[1]!);
  assert.ok(m[1]!.trim().split('\n').length <= 22, 'the script stays about 20 lines');
  return path;
}

function trailIn(sub: string, n: number): string {
  const dataDir = join(dir, sub);
  const db = openStateDb(dataDir);
  const audit = createAuditLog(db);
  const day = Date.parse('2026-11-01T00:00:00Z');
  for (let i = 0; i < n; i++)
    audit.append({ at: day + i * 3_600_000, kind: i % 2 ? 'auth.failure' : 'schema.ddl', actor: 'r\u00f6le', target: 'pg', client: '10.1.2.3', outcome: i % 2 ? 'failure' : 'success', raw: `line "${i}"\t\u2028`, details: { n: i, nested: { ok: true } } });
  db.close();
  return dataDir;
}

describe('dpmon audit verify', () => {
  it('exits 0 on an intact trail and 1 naming the row changed with UPDATE', () => {
    const dataDir = trailIn('verify', 6);
    const ok = runDpmonSync(['audit', 'verify', '--data-dir', dataDir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /audit chain intact: 6 rows \(ids 1\.\.6\)/);
    const db = new Database(join(dataDir, 'state.db'));
    db.prepare(`UPDATE audit_events SET outcome = 'success' WHERE id = 4`).run();
    const stored = db.prepare('SELECT hash FROM audit_events WHERE id = 4').pluck().get() as string;
    db.close();
    const bad = runDpmonSync(['audit', 'verify', '--data-dir', dataDir]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stdout, new RegExp(`BROKEN at row 4: hash expected [0-9a-f]{64}, found ${stored}`));
  });

  it('exits 1 naming the row after a deleted one', () => {
    const dataDir = trailIn('deleted', 4);
    const db = new Database(join(dataDir, 'state.db'));
    db.prepare('DELETE FROM audit_events WHERE id = 2').run();
    db.close();
    const bad = runDpmonSync(['audit', 'verify', '--data-dir', dataDir, '--json']);
    assert.equal(bad.code, 1);
    const r = JSON.parse(bad.stdout) as { ok: boolean; broken: { id: number; field: string } };
    assert.deepEqual([r.ok, r.broken.id, r.broken.field], [false, 3, 'prev_hash']);
  });
});

describe('dpmon audit export and the auditor script', () => {
  it('exports a stretch the doc script verifies, and the script catches an edited line', () => {
    const dataDir = trailIn('export', 10);
    const out = join(dir, 'export.jsonl');
    const r = runDpmonSync(['audit', 'export', '--data-dir', dataDir, '--from', '2026-11-01T02:00:00Z', '--to', '2026-11-01T07:00:00Z', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { id: number }).id), [3, 4, 5, 6, 7]);
    const script = docScript();
    const good = spawnSync(process.execPath, [script, out], { encoding: 'utf8' });
    assert.equal(good.status, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /^5 rows verified/);
    const edited = lines.map((l, i) => (i === 2 ? l.replace('"actor":"r\u00f6le"', '"actor":"someone"') : l));
    assert.notDeepEqual(edited, lines);
    writeFileSync(out, `${edited.join('\n')}\n`);
    const bad = spawnSync(process.execPath, [script, out], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /^line 3 \(row 5\): its fields hash to/);
    const dropped = lines.filter((_, i) => i !== 1);
    writeFileSync(out, `${dropped.join('\n')}\n`);
    const gap = spawnSync(process.execPath, [script, out], { encoding: 'utf8' });
    assert.equal(gap.status, 1);
    assert.match(gap.stdout, /^line 2 \(row 5\): links to/);
  });

  it('refuses a --from that is not a time, with the reason', () => {
    const r = runDpmonSync(['audit', 'export', '--data-dir', dir, '--from', 'yesterday']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--from "yesterday" is not a time/);
  });
});

describe('audit batches under SIGKILL', () => {
  it('loses no event and stores none twice when the source is killed mid-run, twice', async () => {
    const dataDir = join(dir, 'kill');
    const script = join(repoRoot, 'test/fixtures/audit/batches.ts');
    let lastCommitted = 0;
    for (let round = 0; round < 2; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, '25'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
      const lines = createInterface({ input: child.stdout! });
      let resumedAt = -1;
      await new Promise<void>((resolve, reject) => {
        let commits = 0;
        lines.on('line', (line) => {
          const m = JSON.parse(line) as { resumedAt?: number; committed?: number };
          if (m.resumedAt !== undefined) resumedAt = m.resumedAt;
          if (m.committed !== undefined) {
            lastCommitted = m.committed;
            // killed while it is writing batches back to back: some kills land inside a transaction
            if (++commits === 40 + round * 17) {
              child.kill('SIGKILL');
              resolve();
            }
          }
        });
        child.on('exit', (code, signal) => signal !== 'SIGKILL' && reject(new Error(`batch child exited with ${code}`)));
      });
      assert.equal(await exited, 'SIGKILL');
      assert.ok(resumedAt >= 0);
      if (round === 1) assert.ok(resumedAt > 0, 'the second run resumed from the stored position');
    }
    const db = openStateDb(dataDir);
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const audit = createAuditLog(db);
      const position = Number(audit.position('counter'));
      assert.ok(position >= lastCommitted, `stored position ${position} is at least the last one reported (${lastCommitted})`);
      const ns = db.prepare(`SELECT json_extract(details, '$.n') FROM audit_events WHERE kind = 'test.counter' ORDER BY id`).pluck().all() as number[];
      assert.equal(ns.length, position, 'as many events as the position says were read');
      assert.ok(ns.every((n, i) => n === i + 1), 'every event once, in order');
      assert.ok(audit.verify().ok);
    } finally {
      db.close();
    }
  });
});

describe("a running dpmon records its own actions", () => {
  it('records a refused token with its address, a reload with the changed key path, and a silence; the chain verifies', async () => {
    const data = join(dir, 'running');
    const config = join(dir, 'running.yaml');
    const deadPort = await freePort();
    const yaml = (retention: string) => `targets:
  - name: dead
    dsn: postgres://dpmon@127.0.0.1:${deadPort}/postgres
    connect_timeout: 1s
server:
  auth_token: s3cret
audit_config:
  retention: ${retention}
storage:
  data_dir: ${data}
`;
    writeFileSync(config, yaml('90d'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const dpmon = runDpmon(['start', '--config', config, '--listen', `127.0.0.1:${port}`]);
    const auth = { authorization: 'Bearer s3cret', 'content-type': 'application/json' };
    try {
      await waitFor('the audit API', async () => ((await fetch(`${base}/api/dpmon/audit`).catch(() => undefined))?.ok ? true : undefined));
      assert.equal((await fetch(`${base}/-/reload`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401);
      writeFileSync(config, yaml('30d'));
      assert.equal((await fetch(`${base}/-/reload`, { method: 'POST', headers: auth })).status, 200);
      const now = Date.now();
      const silence = await fetch(`${base}/api/v2/silences`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ matchers: [{ name: 'alertname', value: 'pg_down', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), createdBy: 'erin', comment: 'planned' }),
      });
      assert.equal(silence.status, 200);
      type Ev = { kind: string; actor: string; client?: string; outcome?: string; details: Record<string, unknown> };
      const events = ((await (await fetch(`${base}/api/dpmon/audit?kind=dpmon.`)).json()) as { data: Ev[] }).data;
      const byKind = (k: string) => events.find((e) => e.kind === k);
      assert.deepEqual([byKind('dpmon.auth_failure')?.client, byKind('dpmon.auth_failure')?.outcome], ['127.0.0.1', 'denied']);
      assert.deepEqual(byKind('dpmon.config_reload')?.details.changed, ['audit_config.retention']);
      assert.equal(byKind('dpmon.silence_created')?.actor, 'erin');
      assert.ok(!JSON.stringify(events).includes('s3cret'));
      assert.equal(((await (await fetch(`${base}/api/dpmon/audit/verify`)).json()) as { data: { ok: boolean } }).data.ok, true);
    } finally {
      dpmon.child.kill('SIGINT');
    }
    assert.equal(await dpmon.exited, 0, dpmon.output());
    const verified = runDpmonSync(['audit', 'verify', '--config', config]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
});
