// The dpmon command line as a user runs it: exit codes, every config error printed before anything
// starts, and `start` with several targets of which one is unreachable.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatConfigIssue, loadConfig } from '../src/config/index.ts';
import { startCluster, type Cluster } from './harness/postgres.ts';
import { freePort, runDpmon, runDpmonSync, waitFor } from './harness/process.ts';
import { startTestReceiver } from './harness/remote-write-receiver.ts';

const FIXTURES = 'src/config/fixtures';
const SEED = `${FIXTURES}/seed/datapunk.yaml`;

/** What the loader itself reports for a fixture: the CLI must print exactly these lines. */
function loaderErrors(path: string): string[] {
  try {
    loadConfig([path], {});
  } catch (err) {
    if (err instanceof ConfigError) return err.errors.map(formatConfigIssue);
    throw err;
  }
  return [];
}

describe('dpmon check-config', () => {
  it('exits 2 on rules that cannot be built, naming each with file:line:col key.path', () => {
    const r = runDpmonSync(['check-config', '--config', `${FIXTURES}/bad-rules.yaml`]);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.at(-1), 'dpmon: 5 configuration error(s); nothing started');
    assert.match(r.stderr, /bad-rules\.yaml:4:5 alert_rules\.low_severity\.cache_misses: no built-in expression/);
    assert.match(r.stderr, /bad-rules\.yaml:30:11 prometheus_config\.rules\[0\]\.rules\[0\]\.expr: invalid PromQL/);
  });


  it('accepts the spec seed file and its fragments folder with exit code 0', () => {
    for (const path of [SEED, `${FIXTURES}/seed/fragments`]) {
      const r = runDpmonSync(['check-config', '--config', path]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^config OK/);
    }
  });

  const bad = [
    'unknown-key.yaml',
    'wrong-type.yaml',
    'bad-duration.yaml',
    'bad-percent.yaml',
    'malformed.yaml',
    'conflict',
    'bad-dsn.yaml',
    'undefined-var.yaml',
    'listen.yaml',
    'multiple.yaml',
  ];
  for (const fixture of bad) {
    it(`exits 2 on ${fixture}, printing every error as file:line:col key.path: message`, () => {
      const path = `${FIXTURES}/${fixture}`;
      const expected = loaderErrors(path);
      assert.ok(expected.length > 0, 'the fixture is bad');
      const r = runDpmonSync(['check-config', '--config', path]);
      assert.equal(r.code, 2);
      const lines = r.stderr.trim().split('\n');
      assert.deepEqual(lines.slice(0, expected.length), expected);
      assert.equal(lines.at(-1), `dpmon: ${expected.length} configuration error(s); nothing started`);
      for (const line of expected) assert.match(line, /^src\/config\/fixtures\/[^:]+:\d+:\d+[ :]/);
    });
  }

  it('names the file, line and key path of a misspelt key', () => {
    const r = runDpmonSync(['check-config', '--config', `${FIXTURES}/unknown-key.yaml`]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^src\/config\/fixtures\/unknown-key\.yaml:4:7 system_metrics\.resource_monitoring\.cpu_usage\.threshold_warnin: unknown key "threshold_warnin"; did you mean "threshold_warning"\?$/m,
    );
  });
});

describe('dpmon command line', () => {
  it('prints help for every command with exit code 0', () => {
    for (const args of [['--help'], ['start', '--help'], ['check-config', '--help'], ['config', 'print', '--help']]) {
      const r = runDpmonSync(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /Usage:\s+dpmon/);
    }
  });

  it('exits 2 on an unknown command or option', () => {
    assert.equal(runDpmonSync(['frobnicate']).code, 2);
    assert.equal(runDpmonSync(['start', '--no-such-option']).code, 2);
    assert.equal(runDpmonSync(['config', 'show']).code, 2);
  });

  it('prints the effective config with secrets as <secret>', () => {
    const r = runDpmonSync(['config', 'print'], { DATABASE_URL: 'postgres://dpmon:hunter2@127.0.0.1:5/x' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dsn: <secret>/);
    assert.ok(!r.stdout.includes('hunter2'));
  });

  it('starts nothing on a bad config: exit 2, no data directory, no listener', async () => {
    const dataDir = join(tmpdir(), `dpmon-never-${process.pid}`);
    const port = await freePort();
    const r = runDpmonSync(['start', '--config', `${FIXTURES}/unknown-key.yaml`, '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nothing started/);
    assert.ok(!existsSync(dataDir));
    await assert.rejects(fetch(`http://127.0.0.1:${port}/-/healthy`));
  });

  it('exits 1 with a clear message when the history store cannot be opened (corrupt history.db)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dpmon-corrupt-'));
    await writeFile(join(dir, 'history.db'), 'this is not an SQLite database, it is a text file long enough to be read as a header');
    const port = await freePort();
    const r = runDpmonSync(['start', '--data-dir', dir, '--listen', `127.0.0.1:${port}`], { DATABASE_URL: 'postgres://dpmon@127.0.0.1:1/x' });
    await rm(dir, { recursive: true, force: true });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /cannot open history store [^"]*history\.db/);
  });

  it('refuses a non-loopback --listen without server.auth_token', () => {
    const r = runDpmonSync(['start', '--listen', '0.0.0.0:9817']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a loopback address and server.auth_token is not set/);
  });
});

describe('dpmon start with several targets, one unreachable', () => {
  let cluster: Cluster;
  let dir: string;

  before(async () => {
    cluster = await startCluster({ version: 16 });
    dir = await mkdtemp(join(tmpdir(), 'dpmon-cli-'));
  });

  after(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves pg_up 1 for the live target and pg_up 0 for the dead one, remote-writes both, then stops cleanly on SIGINT', async () => {
    const deadPort = await freePort();
    const receiver = await startTestReceiver();
    const config = join(dir, 'targets.yaml');
    await writeFile(
      config,
      `targets:
  - name: live
    dsn: ${cluster.primary.dsn}
  - name: dead
    dsn: postgres://dpmon@127.0.0.1:${deadPort}/postgres
    connect_timeout: 1s
storage:
  data_dir: ${join(dir, 'data')}
remote_write:
  - url: ${receiver.url}
`,
    );
    const port = await freePort();
    const dpmon = runDpmon(['start', '--config', config, '--listen', `127.0.0.1:${port}`]);
    try {
      const text = await waitFor('both targets in /metrics', async () => {
        const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /^pg_up\{[^}]*instance="live"[^}]*\} 1$/m.test(body) && /^pg_up\{[^}]*instance="dead"[^}]*\} 0$/m.test(body) ? body : undefined;
      });
      assert.match(text, /^pg_stat_database_xact_commit\{[^}]*instance="live"[^}]*\} \d+/m);
      assert.doesNotMatch(text, /^pg_stat_database_xact_commit\{[^}]*instance="dead"/m);
      assert.match(dpmon.output(), /postgres connect failed, will retry with backoff/);
      // no embedded server when targets are configured
      assert.ok(!existsSync(join(dir, 'data', 'postgres')));
      // remote_write carries the spec's constant labels, as Prometheus adds its external labels
      const upLines = await waitFor('pg_up remote-written for both targets', async () => {
        const lines = receiver.acceptedLines().filter((l) => l.includes('__name__="pg_up"'));
        return lines.some((l) => l.includes('instance="live"')) && lines.some((l) => l.includes('instance="dead"')) ? lines : undefined;
      });
      assert.ok(upLines.every((l) => l.includes('environment="production"') && l.includes('component="datapunk-lake"')), upLines.join('\n'));
    } finally {
      dpmon.child.kill('SIGINT');
      await receiver.close();
    }
    assert.equal(await dpmon.exited, 0);
    assert.match(dpmon.output(), /shutting down/);
  });
});
