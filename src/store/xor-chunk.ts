// A chunk of one series' points compressed as they arrive, with Gorilla's encoding (Pelkonen et al.,
// VLDB 2015), the one Prometheus's head uses: timestamps as delta-of-delta in prefix-coded buckets,
// values as the XOR with the previous value, storing only its meaningful bits. Regular 15 s samples of
// a slowly moving gauge cost one bit of time and a few bits of value, instead of 12 bytes a point.
// Values keep their exact 64 bits, so NaN payloads (Prometheus's stale marker) survive.

export interface XorChunk {
  readonly firstT: number;
  lastT: number;
  n: number;
  bytes: Uint8Array;
  /** bits written */
  bits: number;
  // encoder state: last delta, last value's bits, and the current leading/trailing zero window
  delta: number;
  hi: number;
  lo: number;
  leading: number;
  trailing: number;
}

/** The largest gap between two points of one chunk; a longer gap starts a new chunk. */
export const MAX_CHUNK_GAP_MS = 2 ** 30;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// little-endian is all Node runs on; checked once so a big-endian port fails loudly
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('xor-chunk assumes a little-endian host');

export function createXorChunk(t: number, v: number): XorChunk {
  f64[0] = v;
  const c: XorChunk = { firstT: t, lastT: t, n: 1, bytes: new Uint8Array(16), bits: 0, delta: 0, hi: u32[1]!, lo: u32[0]!, leading: -1, trailing: 0 };
  writeBits(c, c.hi, 32);
  writeBits(c, c.lo, 32);
  return c;
}

/** Appends a point; the caller ensures lastT < t <= lastT + MAX_CHUNK_GAP_MS. */
export function xorAppend(c: XorChunk, t: number, v: number): void {
  // worst case per point: 4 + 32 bits of time, 2 + 5 + 6 + 64 bits of value
  if (c.bytes.length * 8 - c.bits < 113) grow(c);
  const delta = t - c.lastT;
  const dod = delta - c.delta;
  if (dod === 0) writeBits(c, 0, 1);
  else if (dod >= -8192 && dod < 8192) {
    writeBits(c, 0b10, 2);
    writeBits(c, dod, 14);
  } else if (dod >= -65536 && dod < 65536) {
    writeBits(c, 0b110, 3);
    writeBits(c, dod, 17);
  } else if (dod >= -524288 && dod < 524288) {
    writeBits(c, 0b1110, 4);
    writeBits(c, dod, 20);
  } else {
    writeBits(c, 0b1111, 4);
    writeBits(c, dod, 32);
  }
  c.delta = delta;
  c.lastT = t;
  c.n++;

  f64[0] = v;
  const hi = u32[1]!;
  const lo = u32[0]!;
  const xh = (hi ^ c.hi) >>> 0;
  const xl = (lo ^ c.lo) >>> 0;
  c.hi = hi;
  c.lo = lo;
  if (xh === 0 && xl === 0) {
    writeBits(c, 0, 1);
    return;
  }
  let leading = xh !== 0 ? Math.clz32(xh) : 32 + Math.clz32(xl);
  const trailing = xl !== 0 ? ctz32(xl) : 32 + ctz32(xh);
  if (leading > 31) leading = 31; // five bits hold it; the extra zeros are written as meaningful bits
  if (c.leading >= 0 && leading >= c.leading && trailing >= c.trailing) {
    writeBits(c, 0b10, 2);
    writeMeaningful(c, xh, xl, c.trailing, 64 - c.leading - c.trailing);
    return;
  }
  c.leading = leading;
  c.trailing = trailing;
  const sig = 64 - leading - trailing;
  writeBits(c, 0b11, 2);
  writeBits(c, leading, 5);
  writeBits(c, sig & 63, 6); // 64 is written as 0
  writeMeaningful(c, xh, xl, trailing, sig);
}

/** Gives the open chunk's spare capacity back once it is full. */
export function xorSeal(c: XorChunk): void {
  const used = (c.bits + 7) >> 3;
  if (used < c.bytes.length) c.bytes = c.bytes.slice(0, used);
}

/** Calls fn(t, v) for every point with t in [start, end], in time order. */
export function xorScan(c: EncodedChunk, start: number, end: number, fn: (t: number, v: number) => void): void {
  if (c.firstT > end || c.lastT < start) return;
  // a scan inside fn (re-entry) decodes into columns of its own
  const cols = scanDepth++ === 0 && scratch.t.length >= c.n ? scratch : createColumns(c.n);
  try {
    xorDecode(c, cols.t, cols.bits, 0);
    const ts = cols.t;
    const vs = cols.v;
    for (let i = 0; i < c.n; i++) {
      const t = ts[i]!;
      if (t < start) continue;
      if (t > end) return;
      fn(t, vs[i]!);
    }
  } finally {
    scanDepth--;
    if (cols !== scratch && scanDepth === 0 && cols.t.length > scratch.t.length) scratch = cols;
  }
}

/** Decoded points as columns; `bits` views the values' bytes, for xorDecode. */
export interface Columns {
  t: Float64Array;
  v: Float64Array;
  bits: Uint32Array;
}

export function createColumns(n: number): Columns {
  const v = new Float64Array(n);
  return { t: new Float64Array(n), v, bits: new Uint32Array(v.buffer) };
}

let scratch = createColumns(128);
let scanDepth = 0;

/** A chunk's encoded form: what the head holds and what history.db stores per chunk row. */
export interface EncodedChunk {
  readonly firstT: number;
  readonly lastT: number;
  readonly n: number;
  readonly bytes: Uint8Array;
}

/**
 * Decodes the whole chunk into columns at `at`: times into outT, values' exact bits into outBits (two
 * little-endian words per value, a Uint32Array over the values' Float64Array), so NaN payloads are
 * copied, never converted. The hot loop of every long read, so the bit reader is inlined: `w` holds
 * the `nb` bits not yet read (nb ≤ 31), refilled a byte at a time, every step an int32 operation.
 * Returns the number of points written (c.n).
 */
export function xorDecode(c: EncodedChunk, outT: Float64Array, outBits: Uint32Array, at: number): number {
  const buf = c.bytes;
  const len = buf.length;
  const n = c.n;
  let hi = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  let lo = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  let p = 8;
  let w = 0;
  let nb = 0;
  let t = c.firstT;
  let delta = 0;
  let leading = 0;
  let trailing = 0;
  let o = at;
  for (let i = 0; ; ) {
    outT[o] = t;
    outBits[2 * o] = lo;
    outBits[2 * o + 1] = hi;
    o++;
    if (++i === n) return n;
    // time: a unary prefix of at most four ones, then 0, 14, 17, 20 or 32 bits of delta-of-delta
    while (nb <= 23) {
      w = (w << 8) | (p < len ? buf[p]! : 0);
      p++;
      nb += 8;
    }
    nb--;
    if (((w >>> nb) & 1) !== 0) {
      let dod: number;
      nb--;
      if (((w >>> nb) & 1) === 0) {
        nb -= 14;
        dod = (w >>> nb) & 0x3fff;
        if (dod >= 0x2000) dod -= 0x4000;
      } else {
        nb--;
        if (((w >>> nb) & 1) === 0) {
          w &= (1 << nb) - 1;
          while (nb < 17) {
            w = (w << 8) | (p < len ? buf[p]! : 0);
            p++;
            nb += 8;
          }
          nb -= 17;
          dod = (w >>> nb) & 0x1ffff;
          if (dod >= 0x10000) dod -= 0x20000;
        } else {
          nb--; // the refill left at least 24 bits: the four control bits are there
          if (((w >>> nb) & 1) === 0) {
            w &= (1 << nb) - 1;
            while (nb < 20) {
              w = (w << 8) | (p < len ? buf[p]! : 0);
              p++;
              nb += 8;
            }
            nb -= 20;
            dod = (w >>> nb) & 0xfffff;
            if (dod >= 0x80000) dod -= 0x100000;
          } else {
            let whole = 0;
            for (let half = 0; half < 2; half++) {
              w &= (1 << nb) - 1;
              while (nb < 16) {
                w = (w << 8) | (p < len ? buf[p]! : 0);
                p++;
                nb += 8;
              }
              nb -= 16;
              whole = whole * 65536 + ((w >>> nb) & 0xffff);
            }
            dod = whole >= 2147483648 ? whole - 4294967296 : whole;
          }
        }
      }
      delta += dod;
    }
    w &= (1 << nb) - 1;
    t += delta;
    // value: 0 = unchanged; 10 = meaningful bits in the previous window; 11 = a new window first
    while (nb <= 23) {
      w = (w << 8) | (p < len ? buf[p]! : 0);
      p++;
      nb += 8;
    }
    nb--;
    if (((w >>> nb) & 1) === 0) {
      w &= (1 << nb) - 1;
      continue;
    }
    nb--;
    if (((w >>> nb) & 1) === 1) {
      nb -= 11;
      const ctl = (w >>> nb) & 0x7ff;
      leading = ctl >>> 6;
      trailing = 64 - leading - (ctl & 63 || 64);
    }
    w &= (1 << nb) - 1;
    // the meaningful bits into mh:ml, at most 24 at a time (the first piece takes the remainder; 24 + 7 bits fit the int32 window)
    let mh = 0;
    let ml = 0;
    for (let rem = 64 - leading - trailing; rem > 0; ) {
      const k = rem > 24 ? rem % 24 || 24 : rem;
      while (nb < k) {
        w = (w << 8) | (p < len ? buf[p]! : 0);
        p++;
        nb += 8;
      }
      nb -= k;
      const part = (w >>> nb) & ((1 << k) - 1);
      w &= (1 << nb) - 1;
      mh = ((mh << k) | (ml >>> (32 - k))) >>> 0;
      ml = ((ml << k) | part) >>> 0;
      rem -= k;
    }
    if (trailing >= 32) hi = (hi ^ (ml << (trailing - 32))) >>> 0;
    else if (trailing > 0) {
      hi = (hi ^ ((mh << trailing) | (ml >>> (32 - trailing)))) >>> 0;
      lo = (lo ^ (ml << trailing)) >>> 0;
    } else {
      hi = (hi ^ mh) >>> 0;
      lo = (lo ^ ml) >>> 0;
    }
  }
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function grow(c: XorChunk): void {
  const next = new Uint8Array(Math.max(c.bytes.length * 2, 32));
  next.set(c.bytes);
  c.bytes = next;
}

/** Writes the low n (≤ 32) bits of value, most significant first. */
function writeBits(c: XorChunk, value: number, n: number): void {
  const buf = c.bytes;
  let bits = c.bits;
  value >>>= 0;
  while (n > 0) {
    const free = 8 - (bits & 7);
    const take = free < n ? free : n;
    const part = (value >>> (n - take)) & ((1 << take) - 1);
    buf[bits >> 3] = buf[bits >> 3]! | (part << (free - take));
    bits += take;
    n -= take;
  }
  c.bits = bits;
}

/** Writes bits [trailing, trailing + sig) of the 64-bit word xh:xl, most significant first. */
function writeMeaningful(c: XorChunk, xh: number, xl: number, trailing: number, sig: number): void {
  let h: number;
  let l: number;
  if (trailing >= 32) {
    h = 0;
    l = xh >>> (trailing - 32);
  } else if (trailing > 0) {
    h = xh >>> trailing;
    l = ((xl >>> trailing) | (xh << (32 - trailing))) >>> 0;
  } else {
    h = xh;
    l = xl;
  }
  if (sig > 32) {
    writeBits(c, h, sig - 32);
    writeBits(c, l, 32);
  } else writeBits(c, l, sig);
}
