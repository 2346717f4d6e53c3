// One endpoint's durable queue of encoded batches: what survives a receiver outage and a restart.
//
// Layout of <dir>: segment files `0000000001.seg`, `0000000002.seg`, … appended with records, and
// `committed.json` = { segment, offset }: the position of the first record not yet delivered.
// A record is a 12-byte header (payload length, sample count, CRC-32 of the payload; u32 little
// endian) and the payload (a snappy-compressed WriteRequest, sent as is).
//
// Bounds: the bytes not yet delivered never exceed maxBytes. When an append would pass it, the
// oldest segments are deleted whole (delivered or not) and their undelivered samples reported
// through onDrop: fresh data is worth more than old data to a monitor. Segments are maxBytes/8
// (at most 32 MiB), so a drop loses about an eighth of the buffer at a time.
//
// Crash safety: each append is written with one write() and fdatasync'd; a torn record at the end
// of the newest segment (a crash mid-write) is cut off at open. The committed position is written
// to a temporary file and renamed, so it is always a whole record boundary; losing its latest
// update only means a batch is sent twice, which Prometheus-compatible receivers accept (same
// timestamp and value).
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  ftruncateSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

const HEADER = 12;
const SEGMENT_RE = /^(\d{10})\.seg$/;

export interface QueueRecord {
  readonly payload: Uint8Array;
  readonly samples: number;
}

export interface DiskQueue {
  /** appends one record; may first drop the oldest segments to stay within maxBytes */
  append(payload: Uint8Array, samples: number): void;
  /** the oldest undelivered record, or undefined when everything is delivered */
  peek(): QueueRecord | undefined;
  /** marks the record peek() returned as done (delivered, or refused by the receiver) */
  commit(): void;
  /** bytes and samples not yet delivered */
  pending(): { bytes: number; samples: number };
  close(): void;
}

interface Segment {
  readonly seq: number;
  size: number;
  samples: number;
}

export function createDiskQueue(opts: {
  dir: string;
  maxBytes: number;
  segmentMaxBytes?: number;
  /** undelivered samples deleted to respect maxBytes (or lost to a corrupt segment: samples unknown, -1) */
  onDrop?: (samples: number, reason: 'buffer_full' | 'corrupt') => void;
}): DiskQueue {
  const { dir, maxBytes } = opts;
  const segmentMaxBytes = opts.segmentMaxBytes ?? Math.max(256, Math.min(32 * 1024 * 1024, Math.floor(maxBytes / 8)));
  mkdirSync(dir, { recursive: true });
  const committedPath = join(dir, 'committed.json');
  const segPath = (seq: number) => join(dir, `${String(seq).padStart(10, '0')}.seg`);

  const segments: Segment[] = readdirSync(dir)
    .map((f) => SEGMENT_RE.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ seq: Number(m[1]), size: 0, samples: 0 }))
    .sort((a, b) => a.seq - b.seq);

  // where reading resumes
  let readSeq = 0;
  let readOffset = 0;
  let readSamples = 0; // samples of the read segment before readOffset
  try {
    const c = JSON.parse(readFileSync(committedPath, 'utf8')) as { segment?: unknown; offset?: unknown };
    if (typeof c.segment === 'number' && typeof c.offset === 'number') {
      readSeq = c.segment;
      readOffset = c.offset;
    }
  } catch {
    // no (or an unreadable) committed position: start from the oldest segment
  }

  // segments wholly before the committed one were delivered: remove them
  while (segments.length > 0 && segments[0]!.seq < readSeq) rmSync(segPath(segments.shift()!.seq), { force: true });
  if (segments.length === 0) segments.push({ seq: Math.max(1, readSeq), size: 0, samples: 0 });
  if (segments[0]!.seq !== readSeq) {
    readSeq = segments[0]!.seq;
    readOffset = 0;
  }

  // scan every segment's headers for sizes and sample counts; cut a torn tail off the newest
  for (const [i, seg] of segments.entries()) {
    const last = i === segments.length - 1;
    const fd = openSync(segPath(seg.seq), existsSync(segPath(seg.seq)) ? 'r+' : 'w+');
    try {
      const fileSize = fstatSync(fd).size;
      const header = Buffer.alloc(HEADER);
      let pos = 0;
      let samples = 0;
      while (pos + HEADER <= fileSize) {
        readSync(fd, header, 0, HEADER, pos);
        const len = header.readUInt32LE(0);
        if (pos + HEADER + len > fileSize) break;
        if (last) {
          // only the newest segment can hold a record torn by a crash: check its payloads
          const payload = Buffer.alloc(len);
          readSync(fd, payload, 0, len, pos + HEADER);
          if (crc32(payload) !== header.readUInt32LE(8)) break;
        }
        if (seg.seq === readSeq && pos < readOffset) readSamples += header.readUInt32LE(4);
        samples += header.readUInt32LE(4);
        pos += HEADER + len;
      }
      if (last && pos < fileSize) ftruncateSync(fd, pos);
      seg.size = pos;
      seg.samples = samples;
    } finally {
      closeSync(fd);
    }
  }
  if (readOffset > segments[0]!.size) readOffset = segments[0]!.size;

  let writeFd = openSync(segPath(segments.at(-1)!.seq), 'a');
  let peeked: { len: number; samples: number } | undefined;

  function saveCommitted(): void {
    const tmp = `${committedPath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ segment: readSeq, offset: readOffset }));
    renameSync(tmp, committedPath);
  }

  function pendingBytes(): number {
    let total = -readOffset;
    for (const s of segments) total += s.size;
    return total;
  }

  function rotate(): void {
    closeSync(writeFd);
    const seq = segments.at(-1)!.seq + 1;
    segments.push({ seq, size: 0, samples: 0 });
    writeFd = openSync(segPath(seq), 'a');
  }

  /** deletes the oldest segment (the one being read), reporting its undelivered samples */
  function dropOldest(reason: 'buffer_full' | 'corrupt'): void {
    const seg = segments.shift()!;
    rmSync(segPath(seg.seq), { force: true });
    const lost = reason === 'corrupt' ? -1 : seg.samples - readSamples;
    readSeq = segments[0]!.seq;
    readOffset = 0;
    readSamples = 0;
    peeked = undefined;
    saveCommitted();
    if (lost !== 0) opts.onDrop?.(lost, reason);
  }

  return {
    append(payload, samples) {
      const record = Buffer.alloc(HEADER + payload.length);
      record.writeUInt32LE(payload.length, 0);
      record.writeUInt32LE(samples, 4);
      record.writeUInt32LE(crc32(payload), 8);
      record.set(payload, HEADER);
      if (record.length > maxBytes) {
        // can never fit: refuse it rather than empty the whole buffer for it
        opts.onDrop?.(samples, 'buffer_full');
        return;
      }
      if (segments.at(-1)!.size > 0 && segments.at(-1)!.size + record.length > segmentMaxBytes) rotate();
      while (pendingBytes() + record.length > maxBytes && segments.length > 1) dropOldest('buffer_full');
      writeSync(writeFd, record);
      fdatasyncSync(writeFd);
      const seg = segments.at(-1)!;
      seg.size += record.length;
      seg.samples += samples;
    },

    peek() {
      for (;;) {
        const seg = segments[0]!;
        if (readOffset < seg.size) {
          const fd = openSync(segPath(seg.seq), 'r');
          try {
            const header = Buffer.alloc(HEADER);
            readSync(fd, header, 0, HEADER, readOffset);
            const len = header.readUInt32LE(0);
            const payload = Buffer.alloc(len);
            const got = len > 0 ? readSync(fd, payload, 0, len, readOffset + HEADER) : 0;
            if (got !== len || crc32(payload) !== header.readUInt32LE(8) || readOffset + HEADER + len > seg.size) {
              // a damaged older segment (disk error): skip what is left of it
              if (segments.length > 1) {
                dropOldest('corrupt');
                continue;
              }
              seg.size = readOffset;
              return undefined;
            }
            peeked = { len, samples: header.readUInt32LE(4) };
            return { payload, samples: peeked.samples };
          } finally {
            closeSync(fd);
          }
        }
        if (segments.length === 1) return undefined;
        // finished an older segment: it is delivered, delete it and read the next
        rmSync(segPath(seg.seq), { force: true });
        segments.shift();
        readSeq = segments[0]!.seq;
        readOffset = 0;
        readSamples = 0;
        saveCommitted();
      }
    },

    commit() {
      if (!peeked) return;
      readOffset += HEADER + peeked.len;
      readSamples += peeked.samples;
      peeked = undefined;
      saveCommitted();
    },

    pending() {
      let samples = -readSamples;
      for (const s of segments) samples += s.samples;
      return { bytes: pendingBytes(), samples };
    },

    close() {
      closeSync(writeFd);
    },
  };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE), as zlib computes it; zlib.crc32 needs Node 22. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
