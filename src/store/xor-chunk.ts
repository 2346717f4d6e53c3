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
export function xorScan(c: XorChunk, start: number, end: number, fn: (t: number, v: number) => void): void {
  if (c.firstT > end || c.lastT < start) return;
  const r = new BitReader(c.bytes);
  let hi = r.read(32);
  let lo = r.read(32);
  let t = c.firstT;
  let delta = 0;
  let leading = 0;
  let trailing = 0;
  const n = c.n;
  for (let i = 0; ; ) {
    if (t >= start) {
      if (t > end) return;
      u32[1] = hi;
      u32[0] = lo;
      fn(t, f64[0]!);
    }
    if (++i === n) return;
    // time: the control bits are a unary prefix of at most four ones
    if (r.bit() === 0) {
      // dod 0: the same delta
    } else if (r.bit() === 0) delta += signed(r.read(14), 14);
    else if (r.bit() === 0) delta += signed(r.read(17), 17);
    else if (r.bit() === 0) delta += signed(r.read(20), 20);
    else delta += signed(r.read(32), 32);
    t += delta;
    // value
    if (r.bit() === 0) continue;
    if (r.bit() === 1) {
      leading = r.read(5);
      let sig = r.read(6);
      if (sig === 0) sig = 64;
      trailing = 64 - leading - sig;
    }
    const sig = 64 - leading - trailing;
    let mh = 0;
    let ml: number;
    if (sig > 32) {
      mh = r.read(sig - 32);
      ml = r.read(32);
    } else ml = r.read(sig);
    let xh: number;
    let xl: number;
    if (trailing >= 32) {
      xh = ml * 2 ** (trailing - 32);
      xl = 0;
    } else if (trailing > 0) {
      xh = ((mh << trailing) | (ml >>> (32 - trailing))) >>> 0;
      xl = (ml << trailing) >>> 0;
    } else {
      xh = mh;
      xl = ml;
    }
    hi = (hi ^ xh) >>> 0;
    lo = (lo ^ xl) >>> 0;
  }
}

/** Reads bits most significant first; a class so V8 keeps its fields in registers-friendly slots. */
class BitReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  bit(): number {
    const p = this.pos++;
    return (this.buf[p >> 3]! >> (7 - (p & 7))) & 1;
  }

  /** n ≤ 32 bits as an unsigned number */
  read(n: number): number {
    const buf = this.buf;
    let pos = this.pos;
    let out = 0;
    // the partial first byte, then whole bytes, then the head of the last one
    const avail = 8 - (pos & 7);
    if (n <= avail) {
      out = (buf[pos >> 3]! >> (avail - n)) & ((1 << n) - 1);
      this.pos = pos + n;
      return out;
    }
    out = buf[pos >> 3]! & ((1 << avail) - 1);
    pos += avail;
    n -= avail;
    while (n >= 8) {
      out = out * 256 + buf[pos >> 3]!;
      pos += 8;
      n -= 8;
    }
    if (n > 0) {
      out = out * (1 << n) + (buf[pos >> 3]! >> (8 - n));
      pos += n;
    }
    this.pos = pos;
    return out;
  }
}

function signed(x: number, bits: number): number {
  return x >= 2 ** (bits - 1) ? x - 2 ** bits : x;
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
