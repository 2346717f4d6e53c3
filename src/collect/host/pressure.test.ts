import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPressureCollector, parsePressure } from './pressure.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('pressure collector', () => {
  let proc: string;
  before(async () => {
    proc = await mkdtemp(join(tmpdir(), 'dpmon-psi-'));
    await mkdir(join(proc, 'pressure'));
    await writeFile(join(proc, 'pressure', 'cpu'), 'some avg10=1.00 avg60=0.50 avg300=0.20 total=4073263264\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n');
    await writeFile(join(proc, 'pressure', 'io'), 'some avg10=0.07 avg60=0.25 avg300=0.22 total=50389536\nfull avg10=0.00 avg60=0.05 avg300=0.07 total=19957620\n');
    await writeFile(join(proc, 'pressure', 'memory'), 'some avg10=0.00 avg60=0.00 avg300=0.00 total=12\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3\n');
  });
  after(async () => rm(proc, { recursive: true, force: true }));

  it('serves the stall totals in seconds under node_exporter’s names', async () => {
    const s = await collectOnce(createPressureCollector({ procPath: proc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_pressure_cpu_waiting_seconds_total'), 4073.263264);
    assert.equal(value(s, 'node_pressure_io_waiting_seconds_total'), 50.389536);
    assert.equal(value(s, 'node_pressure_io_stalled_seconds_total'), 19.95762);
    assert.equal(value(s, 'node_pressure_memory_waiting_seconds_total'), 0.000012);
    assert.equal(value(s, 'node_pressure_memory_stalled_seconds_total'), 0.000003);
    assert.equal(select(s, 'node_pressure_irq_stalled_seconds_total').length, 0, 'no irq file, no irq series');
    assert.equal(s.length, 5, 'cpu’s full line is not served, as node_exporter');
  });

  it('serves nothing, without failing, on a kernel without PSI', async () => {
    assert.ok(!existsSync(join(fixtureProc, 'pressure')));
    assert.deepEqual(await collectOnce(createPressureCollector({ procPath: fixtureProc, intervalMs: 1000 })), []);
  });

  it('reads this machine’s PSI when the kernel has it', async (t) => {
    if (!existsSync('/proc/pressure/cpu')) return t.skip('this kernel has no /proc/pressure');
    // the file first, then the collector: a counter read later is never smaller
    const expected = parsePressure(await readFile('/proc/pressure/cpu', 'utf8')).some ?? 0;
    const s = await collectOnce(createPressureCollector({ procPath: '/proc', intervalMs: 1000 }));
    const got = value(s, 'node_pressure_cpu_waiting_seconds_total');
    assert.ok(got >= expected / 1e6, 'a counter read after the file was');
    assert.ok(select(s, 'node_pressure_io_stalled_seconds_total').length === 1);
  });
});
