// The remote-write 1.0 wire format: a prometheus.WriteRequest (prompb/remote.proto, types.proto),
// protobuf-encoded, then snappy-compressed in the block format (not the framed/stream format).
// The message types are built from an inline descriptor, so there is no code generation step.
import protobuf from 'protobufjs';
import snappy from 'snappyjs';

/** One sample as the writer takes it: labels include `__name__`; t in epoch ms. */
export interface RemoteSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly t: number;
  readonly v: number;
}

// Only the fields of the 1.0 spec: field 2 is reserved (Cortex), 3 is experimental metadata.
const root = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
});

export const WriteRequest = root.lookupType('prometheus.WriteRequest');

export interface WireSeries {
  labels: { name: string; value: string }[];
  samples: { value: number; timestamp: number }[];
}

/**
 * Groups samples into time series as the spec requires: labels sorted by name (with `__name__`),
 * empty-valued labels left out (Prometheus treats them as absent), each series' samples in
 * timestamp order. Series appear in the order of their first sample.
 */
export function toWireSeries(samples: readonly RemoteSample[]): WireSeries[] {
  const bySeries = new Map<string, WireSeries>();
  for (const s of samples) {
    const names = Object.keys(s.labels)
      .filter((n) => s.labels[n] !== '')
      .sort();
    let key = '';
    for (const n of names) key += `${n}\u0000${s.labels[n]}\u0000`;
    let series = bySeries.get(key);
    if (!series) {
      series = { labels: names.map((name) => ({ name, value: s.labels[name] as string })), samples: [] };
      bySeries.set(key, series);
    }
    series.samples.push({ value: s.v, timestamp: Math.round(s.t) });
  }
  for (const series of bySeries.values()) {
    const ts = series.samples;
    // usually already in order: sort only when needed (a stable sort keeps equal timestamps in push order)
    for (let i = 1; i < ts.length; i++) {
      if (ts[i]!.timestamp < ts[i - 1]!.timestamp) {
        ts.sort((a, b) => a.timestamp - b.timestamp);
        break;
      }
    }
  }
  return [...bySeries.values()];
}

/** Protobuf bytes of a WriteRequest holding the samples (uncompressed). */
export function encodeWriteRequest(samples: readonly RemoteSample[]): Uint8Array {
  return WriteRequest.encode(WriteRequest.fromObject({ timeseries: toWireSeries(samples) })).finish();
}

/** The request body: the WriteRequest, snappy block-compressed. */
export function encodeBody(samples: readonly RemoteSample[]): Uint8Array {
  return snappy.compress(encodeWriteRequest(samples));
}

/** The inverse of encodeBody (tests, and the test receiver). Timestamps come back as numbers. */
export function decodeBody(body: Uint8Array): WireSeries[] {
  const raw = snappy.uncompress(body);
  const msg = WriteRequest.decode(raw);
  const obj = WriteRequest.toObject(msg, { longs: Number, defaults: true }) as { timeseries?: WireSeries[] };
  return obj.timeseries ?? [];
}
