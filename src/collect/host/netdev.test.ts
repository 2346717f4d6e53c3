import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNetdevCollector } from './netdev.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('netdev collector', () => {
  it('reads each /proc/net/dev column into its node_exporter counter', async () => {
    const s = await collectOnce(createNetdevCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    const eth0 = { device: 'eth0' };
    const expected: [string, number][] = [
      ['node_network_receive_bytes_total', 139492727],
      ['node_network_receive_packets_total', 3295],
      ['node_network_receive_errs_total', 1],
      ['node_network_receive_drop_total', 2],
      ['node_network_receive_fifo_total', 3],
      ['node_network_receive_frame_total', 4],
      ['node_network_receive_compressed_total', 5],
      ['node_network_receive_multicast_total', 6],
      ['node_network_transmit_bytes_total', 229888],
      ['node_network_transmit_packets_total', 1946],
      ['node_network_transmit_errs_total', 7],
      ['node_network_transmit_drop_total', 8],
      ['node_network_transmit_fifo_total', 9],
      ['node_network_transmit_colls_total', 10],
      ['node_network_transmit_carrier_total', 11],
      ['node_network_transmit_compressed_total', 12],
    ];
    for (const [name, v] of expected) assert.equal(value(s, name, eth0), v, name);
    assert.equal(select(s, 'node_network_receive_bytes_total').length, 2, 'lo and eth0; header lines skipped');
    assert.ok(s.every((x) => x.desc.type === 'counter'));
  });

  it('reads the interfaces of this machine', async () => {
    const s = await collectOnce(createNetdevCollector({ procPath: '/proc', intervalMs: 1000 }));
    assert.ok(value(s, 'node_network_receive_bytes_total', { device: 'lo' }) >= 0);
  });
});
