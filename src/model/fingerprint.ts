// Alert fingerprints: a stable short hash of a label set, the same after a restart.
import { labelsKey, type Labels } from './labels.ts';

/** 64-bit FNV-1a of the label set text (its UTF-16 code units), 16 hex digits: stable across restarts, cheap per evaluation. */
export function fingerprintOf(labels: Labels): string {
  const text = labelsKey(labels);
  // two 32-bit halves of the 64-bit state; prime 2^40 + 2^8 + 0xb3
  let h1 = 0xcbf29ce4;
  let h0 = 0x84222325;
  for (let i = 0; i < text.length; i++) {
    h0 = (h0 ^ text.charCodeAt(i)) >>> 0;
    const lo = h0 * 0x1b3;
    const hi = h1 * 0x1b3 + h0 * 256 + Math.floor(lo / 0x100000000);
    h0 = lo >>> 0;
    h1 = hi >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h0.toString(16).padStart(8, '0');
}
