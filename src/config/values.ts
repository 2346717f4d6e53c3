// Parsers for the config's value types that are text in YAML: percentages, thresholds, replication lag,
// listen addresses. Each throws an Error whose message is the one the user sees.
import { isByteSize, parseBytes, parseDuration } from '../lib/duration.ts';

/** `90`, `90%`, `12.5%` → 90, 90, 12.5; refuses anything outside 0–100. */
export function parsePercent(v: string | number): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*%?\s*$/.exec(v);
    if (!m) throw new Error(`invalid percentage ${JSON.stringify(v)}: expected a number from 0 to 100, optionally followed by %`);
    n = Number(m[1]);
  }
  if (!(n >= 0 && n <= 100)) {
    throw new Error(`percentage ${typeof v === 'string' ? v.trim() : v} is out of range (0 to 100)`);
  }
  return n;
}

export type ThresholdKind = 'number' | 'percent' | 'duration' | 'bytes';

/**
 * A rule or action threshold as written: `1000` (a number in the metric's own unit), `90%` (percent),
 * `1000ms`/`5m` (a duration, value in ms) or `16MB` (bytes).
 */
export interface Threshold {
  readonly kind: ThresholdKind;
  /** ms for durations, bytes for sizes, 0–100 for percentages */
  readonly value: number;
}

export function parseThreshold(v: string | number): Threshold {
  if (typeof v === 'number') return { kind: 'number', value: v };
  const s = v.trim();
  if (s.endsWith('%')) return { kind: 'percent', value: parsePercent(s) };
  if (/^-?\d+(?:\.\d+)?$/.test(s)) return { kind: 'number', value: Number(s) };
  if (isByteSize(s)) return { kind: 'bytes', value: parseBytes(s) };
  try {
    return { kind: 'duration', value: parseDuration(s) };
  } catch {
    throw new Error(
      `invalid threshold ${JSON.stringify(v)}: expected a number (1000), a percentage (90%), a duration (1000ms, 5m) or a byte size (16MB)`,
    );
  }
}

/**
 * Replication lag thresholds. Decision (the spec gives bare numbers, 1000 and 5000, without a unit):
 * a bare number is milliseconds of replay lag; `5s`-style durations are replay lag too; byte sizes
 * (`16MB`) are WAL bytes not yet replayed.
 */
export interface LagThreshold {
  readonly kind: 'duration' | 'bytes';
  /** ms for duration, bytes for bytes */
  readonly value: number;
}

export function parseLagThreshold(v: string | number): LagThreshold {
  if (typeof v === 'number') {
    if (v < 0) throw new Error(`lag threshold ${v} must not be negative`);
    return { kind: 'duration', value: v };
  }
  const s = v.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return { kind: 'duration', value: Number(s) };
  if (isByteSize(s)) return { kind: 'bytes', value: parseBytes(s) };
  try {
    return { kind: 'duration', value: parseDuration(s) };
  } catch {
    throw new Error(
      `invalid lag threshold ${JSON.stringify(v)}: expected milliseconds (1000), a duration (5s) or a byte size (16MB)`,
    );
  }
}

/** `HOST:PORT`, `[::1]:PORT`; undefined when malformed. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
