// Parsing of the Prometheus HTTP API's parameters, with its rules: times are RFC 3339 or Unix seconds
// (fractions allowed), durations are Prometheus durations or float seconds.
import { parseDuration } from '../lib/duration.ts';

export class BadParam extends Error {}

/** A time parameter in epoch ms; `fallback` when absent. */
export function parseTime(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || !/^\d{4}-\d\d-\d\dT/.test(text)) throw new BadParam(`invalid parameter "${name}": cannot parse "${text}" to a valid timestamp`);
  return ms;
}

/** A duration parameter (step, timeout) in ms. */
export function parseStep(text: string | undefined, name: string): number {
  if (text === undefined || text === '') throw new BadParam(`invalid parameter "${name}": missing`);
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    try {
      ms = parseDuration(text);
    } catch {
      throw new BadParam(`invalid parameter "${name}": cannot parse "${text}" to a valid duration`);
    }
  }
  if (!(ms > 0)) throw new BadParam(`invalid parameter "${name}": zero or negative query resolution step widths are not accepted. Try a positive integer`);
  return ms;
}

/** The `timeout` parameter in ms: a Prometheus duration or float seconds; 0 or less means the server's. */
export function parseTimeout(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  try {
    return parseDuration(text);
  } catch {
    throw new BadParam(`invalid parameter "timeout": cannot parse "${text}" to a valid duration`);
  }
}

/**
 * The `limit` parameter of series, labels and label values: a non-negative integer, 0 (or absent)
 * meaning none (api.go parseLimitParam; its messages are Go's strconv.Atoi errors).
 */
export function parseLimit(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^[+-]?\d+$/.test(text)) throw new BadParam(`invalid parameter "limit": strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new BadParam(`invalid parameter "limit": strconv.Atoi: parsing ${JSON.stringify(text)}: value out of range`);
  if (n < 0) throw new BadParam('invalid parameter "limit": limit must be non-negative');
  return n;
}
