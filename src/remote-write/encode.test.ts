import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import { isStaleNaN, STALE_NAN } from '../model/stale.ts';
import { decodeBody, encodeBody, encodeWriteRequest } from './encode.ts';

// An independent reading of the wire format: the spec's .proto text, parsed by protobufjs.
const SPEC_PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; reserved 3; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`;
const SpecWriteRequest = protobuf.parse(SPEC_PROTO).root.lookupType('prometheus.WriteRequest');

function decodeWithSpec(body: Uint8Array) {
  const msg = SpecWriteRequest.decode(snappy.uncompress(body));
  return SpecWriteRequest.toObject(msg, { longs: Number }) as {
    timeseries: { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }[];
  };
}

describe('remote-write encoding', () => {
  it('round-trips samples through snappy and the spec proto', () => {
    const t0 = 1_700_000_000_123;
    const body = encodeBody([
      { labels: { __name__: 'up', job: 'pg', instance: 'a:5432' }, t: t0, v: 1 },
      { labels: { __name__: 'up', job: 'pg', instance: 'b:5432' }, t: t0, v: 0 },
      { labels: { __name__: 'up', job: 'pg', instance: 'a:5432' }, t: t0 + 15_000, v: 0.5 },
    ]);
    const decoded = decodeWithSpec(body);
    assert.deepEqual(decoded.timeseries, [
      {
        labels: [
          { name: '__name__', value: 'up' },
          { name: 'instance', value: 'a:5432' },
          { name: 'job', value: 'pg' },
        ],
        samples: [
          { value: 1, timestamp: t0 },
          { value: 0.5, timestamp: t0 + 15_000 },
        ],
      },
      {
        labels: [
          { name: '__name__', value: 'up' },
          { name: 'instance', value: 'b:5432' },
          { name: 'job', value: 'pg' },
        ],
        samples: [{ value: 0, timestamp: t0 }],
      },
    ]);
  });

  it('sorts labels by name, byte-wise, with __name__ included', () => {
    const [series] = decodeBody(encodeBody([{ labels: { zeta: '1', Alpha: '2', __name__: 'm', a: '3' }, t: 1, v: 1 }]));
    assert.deepEqual(series!.labels.map((l) => l.name), ['Alpha', '__name__', 'a', 'zeta']);
  });

  it('sends the stale marker with its exact bits, as Prometheus does', () => {
    const body = encodeWriteRequest([{ labels: { __name__: 'm' }, t: 1, v: STALE_NAN }]);
    // field 1 of Sample, wire type 1 (fixed64): 0x7ff0000000000002 little-endian
    assert.ok(Buffer.from(body).toString('hex').includes('09020000000000f07f'));
    const [series] = decodeBody(encodeBody([{ labels: { __name__: 'm' }, t: 1, v: STALE_NAN }]));
    assert.ok(isStaleNaN(series!.samples[0]!.value));
  });

  it('puts each series samples in timestamp order', () => {
    const [series] = decodeBody(
      encodeBody([
        { labels: { __name__: 'm' }, t: 3000, v: 3 },
        { labels: { __name__: 'm' }, t: 1000, v: 1 },
        { labels: { __name__: 'm' }, t: 2000, v: 2 },
      ]),
    );
    assert.deepEqual(series!.samples, [
      { value: 1, timestamp: 1000 },
      { value: 2, timestamp: 2000 },
      { value: 3, timestamp: 3000 },
    ]);
  });

  it('leaves out empty-valued labels, which Prometheus treats as absent', () => {
    const [series] = decodeBody(encodeBody([{ labels: { __name__: 'm', empty: '', x: 'y' }, t: 1, v: 1 }]));
    assert.deepEqual(series!.labels, [
      { name: '__name__', value: 'm' },
      { name: 'x', value: 'y' },
    ]);
  });

  it('keeps special float values and large timestamps exact', () => {
    const t = Date.UTC(2100, 0, 1);
    const [series] = decodeBody(
      encodeBody([
        { labels: { __name__: 'm' }, t, v: Number.NaN },
        { labels: { __name__: 'm' }, t: t + 1, v: Number.POSITIVE_INFINITY },
        { labels: { __name__: 'm' }, t: t + 2, v: -0.1 },
      ]),
    );
    assert.ok(Number.isNaN(series!.samples[0]!.value));
    assert.equal(series!.samples[1]!.value, Number.POSITIVE_INFINITY);
    assert.equal(series!.samples[2]!.value, -0.1);
    assert.deepEqual(series!.samples.map((s) => s.timestamp), [t, t + 1, t + 2]);
  });

  it('compresses with the snappy block format', () => {
    const samples = Array.from({ length: 500 }, (_, i) => ({ labels: { __name__: 'm', i: String(i % 10) }, t: 1000 + i, v: i }));
    const raw = encodeWriteRequest(samples);
    const body = encodeBody(samples);
    assert.ok(body.length < raw.length);
    assert.deepEqual(Buffer.from(snappy.uncompress(body)), Buffer.from(raw));
  });
});
