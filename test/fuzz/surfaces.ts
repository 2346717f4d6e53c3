// The fuzzed surfaces: each turns a seeded random source into one HTTP request (or, for the config
// loader, one YAML file). Grammar-based first — valid-looking inputs reach deep into the code — then
// damaged by mutate(), and now and then one built to hurt (NASTY_*).
import { LONG_VALUE, mutate, NASTY_REGEXES, NASTY_TIMES, type Random } from './random.ts';

export interface FuzzRequest {
  readonly method: string;
  /** path and query */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

const METRICS = ['up', 'pg_up', 'node_cpu_seconds_total', 'node_memory_MemAvailable_bytes', 'dpmon_collector_success', 'ALERTS', 'nope', '__name__'];
const LABELS = ['instance', 'job', 'mode', 'cpu', 'collector', '__name__', 'alertname', 'x'];
const FUNCS1 = ['abs', 'ceil', 'floor', 'exp', 'ln', 'sqrt', 'timestamp', 'sort', 'sort_desc', 'vector', 'scalar', 'absent', 'sgn', 'day_of_week'];
const RANGE_FUNCS = ['rate', 'irate', 'increase', 'delta', 'deriv', 'avg_over_time', 'max_over_time', 'quantile_over_time', 'changes', 'resets', 'predict_linear', 'holt_winters', 'absent_over_time', 'count_over_time'];
const AGGS = ['sum', 'avg', 'min', 'max', 'count', 'stddev', 'topk', 'bottomk', 'quantile', 'count_values', 'group'];
const BINOPS = ['+', '-', '*', '/', '%', '^', '==', '!=', '>', '<', '>=', '<=', 'and', 'or', 'unless', 'atan2'];
const DURATIONS = ['1s', '5m', '1h', '1d', '1y', '0s', '-5m', '1ms', '999999999y', '5m30s'];

function matcher(r: Random): string {
  const op = r.pick(['=', '!=', '=~', '!~']);
  const value = op.includes('~') && r.chance(0.4) ? r.pick(NASTY_REGEXES) : r.chance(0.5) ? r.string(r.int(6), 'abc.*+|()') : r.pick(['', LONG_VALUE, 'a.*', '.+', 'x|y|z']);
  const quoted = r.chance(0.9) ? JSON.stringify(value) : `'${value}'`;
  return `${r.pick(LABELS)}${op}${quoted}`;
}

function selector(r: Random): string {
  const ms = Array.from({ length: r.int(3) }, () => matcher(r)).join(',');
  const name = r.chance(0.85) ? r.pick(METRICS) : '';
  return `${name}{${ms || (name ? '' : 'instance=~".+"')}}`;
}

export function promqlExpr(r: Random, depth = 0): string {
  if (depth > 4 || r.chance(0.25)) return r.chance(0.8) ? selector(r) : r.pick(['1', '-1e309', 'NaN', 'Inf', '0x1F', '"str"', '`raw`']);
  switch (r.int(8)) {
    case 0:
      return `${r.pick(FUNCS1)}(${promqlExpr(r, depth + 1)})`;
    case 1:
      return `${r.pick(RANGE_FUNCS)}(${selector(r)}[${r.pick(DURATIONS)}]${r.chance(0.3) ? '' : ''})`;
    case 2: {
      const param = ['topk', 'bottomk', 'quantile', 'count_values'];
      const agg = r.pick(AGGS);
      const by = r.chance(0.5) ? ` ${r.pick(['by', 'without'])} (${r.pick(LABELS)})` : '';
      const arg = param.includes(agg) ? `${agg === 'count_values' ? '"v"' : r.pick(['1', '0.5', '-1', '1e9'])}, ` : '';
      return `${agg}${by}(${arg}${promqlExpr(r, depth + 1)})`;
    }
    case 3:
      return `${promqlExpr(r, depth + 1)} ${r.pick(BINOPS)}${r.chance(0.2) ? ' on(instance) group_left' : ''} ${promqlExpr(r, depth + 1)}`;
    case 4:
      return `(${promqlExpr(r, depth + 1)})[${r.pick(DURATIONS)}:${r.pick(['', '1s', '1m'])}]`;
    case 5:
      return `label_replace(${promqlExpr(r, depth + 1)}, "dst", "$1", ${JSON.stringify(r.pick(LABELS))}, ${JSON.stringify(r.chance(0.3) ? r.pick(NASTY_REGEXES) : '(.*)')})`;
    case 6:
      return `${selector(r)} offset ${r.pick(DURATIONS)}`;
    default:
      return `max_over_time(${promqlExpr(r, depth + 1)}[${r.pick(DURATIONS)}:])`;
  }
}

/** An expression built to be expensive or pathological. */
function heavyExpr(r: Random): string {
  switch (r.int(5)) {
    case 0:
      return 'abs('.repeat(1000 + r.int(20_000)) + 'up' + ')'.repeat(1000 + r.int(20_000));
    case 1:
      return Array.from({ length: 20_000 }, () => 'up').join(' + ');
    case 2:
      return `count({__name__=~"${r.pick(NASTY_REGEXES)}"})`;
    case 3:
      return `sum(rate({__name__=~".+"}[1d])) by (instance)`;
    default:
      return '('.repeat(5000) + '1' + ')'.repeat(5000);
  }
}

const enc = encodeURIComponent;

export function promqlRequest(r: Random): FuzzRequest {
  let expr = r.chance(0.05) ? heavyExpr(r) : promqlExpr(r);
  if (r.chance(0.3)) expr = mutate(r, expr);
  const now = Math.floor(Date.now() / 1000);
  const time = () => r.pick([String(now), String(now - 3600), 'now', '-1', '1e20', 'NaN', '2026-02-30T00:00:00Z', new Date(now * 1000).toISOString(), '']);
  const step = r.pick(['15', '1', '0', '-1', '0.001', '1e-9', 'abc', '5m', '1']);
  const timeout = r.chance(0.3) ? `&timeout=${r.pick(['1s', '0', '-1s', 'abc', '100ms'])}` : '';
  switch (r.int(8)) {
    case 0:
      return { method: 'GET', path: `/api/v1/query?query=${enc(expr)}&time=${enc(time())}${timeout}` };
    case 6:
      return { method: r.chance(0.5) ? 'GET' : 'POST', path: `/api/v1/format_query?query=${enc(expr)}` };
    case 7:
      return { method: 'GET', path: `/api/v1/query_exemplars?query=${enc(expr)}&start=${enc(time())}&end=${enc(time())}` };
    case 1:
      return { method: 'GET', path: `/api/v1/query_range?query=${enc(expr)}&start=${enc(String(now - r.pick([60, 3600, 86_400, 10_000_000])))}&end=${enc(time())}&step=${enc(step)}${timeout}` };
    case 2:
      return {
        method: 'POST',
        path: '/api/v1/query',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `query=${enc(expr)}${timeout}`,
      };
    case 3:
      return {
        method: 'GET',
        path: `/api/v1/series?match[]=${enc(r.chance(0.5) ? selector(r) : mutate(r, selector(r)))}&start=${enc(time())}${r.chance(0.3) ? `&limit=${enc(r.pick(['1', '0', '-1', 'x', '1e3', '99999999999999999999']))}` : ''}`,
      };
    case 4:
      return { method: 'GET', path: `/api/v1/label/${enc(r.chance(0.7) ? r.pick(LABELS) : r.string(r.int(8)))}/values?match[]=${enc(mutate(r, selector(r)))}` };
    default:
      return { method: 'GET', path: `/api/v1/labels?match[]=${enc(r.chance(0.5) ? selector(r) : mutate(r, selector(r)))}` };
  }
}

// ---------------------------------------------------------------- Alertmanager API v2

function jsonValue(r: Random, depth = 0): unknown {
  switch (r.int(depth > 3 ? 4 : 7)) {
    case 0:
      return r.string(r.int(10));
    case 1:
      return r.pick([0, -1, 1e308, 0.5, Number.MAX_SAFE_INTEGER]);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return r.pick(NASTY_TIMES);
    case 4:
      return Array.from({ length: r.int(3) }, () => jsonValue(r, depth + 1));
    case 5:
      return Object.fromEntries(Array.from({ length: r.int(3) }, () => [r.string(1 + r.int(5)), jsonValue(r, depth + 1)]));
    default: {
      // nested past the server's depth limit
      let v: unknown = 'deep';
      for (let i = 0, n = 65 + r.int(500); i < n; i++) v = [v];
      return v;
    }
  }
}

function amMatcher(r: Random): Record<string, unknown> {
  const isRegex = r.chance(0.5);
  return {
    name: r.chance(0.9) ? r.pick(LABELS) : r.string(r.int(5)),
    value: isRegex && r.chance(0.5) ? r.pick(NASTY_REGEXES) : r.chance(0.5) ? LONG_VALUE : r.string(r.int(6)),
    isRegex: r.chance(0.95) ? isRegex : 'yes',
    isEqual: r.chance(0.8),
  };
}

function alertBody(r: Random): unknown {
  const time = () => (r.chance(0.6) ? new Date(Date.now() + (r.int(7200) - 3600) * 1000).toISOString() : r.chance(0.7) ? r.pick(NASTY_TIMES) : jsonValue(r));
  return Array.from({ length: 1 + r.int(3) }, () => {
    const a: Record<string, unknown> = {
      labels: r.chance(0.9) ? { alertname: `fuzz_${r.int(5)}`, instance: r.chance(0.5) ? LONG_VALUE : r.string(r.int(8)) } : jsonValue(r),
    };
    if (r.chance(0.5)) a.startsAt = time();
    if (r.chance(0.5)) a.endsAt = time();
    if (r.chance(0.3)) a.annotations = r.chance(0.7) ? { summary: r.string(20) } : jsonValue(r);
    if (r.chance(0.2)) a.generatorURL = jsonValue(r);
    return a;
  });
}

function silenceBody(r: Random): unknown {
  const start = Date.now() + (r.int(7200) - 3600) * 1000;
  const s: Record<string, unknown> = {
    matchers: Array.from({ length: r.int(3) }, () => amMatcher(r)),
    startsAt: r.chance(0.8) ? new Date(start).toISOString() : r.pick(NASTY_TIMES),
    endsAt: r.chance(0.8) ? new Date(start + r.int(7200) * 1000).toISOString() : r.pick(NASTY_TIMES),
    createdBy: r.chance(0.9) ? 'fuzz' : jsonValue(r),
    comment: r.chance(0.9) ? r.string(10) : jsonValue(r),
  };
  if (r.chance(0.2)) s.id = r.chance(0.5) ? r.string(36, '0123456789abcdef-') : jsonValue(r);
  return s;
}

/** An Alertmanager API request; `token` is sent on mutating requests when given. */
export function alertmanagerRequest(r: Random, token?: string): FuzzRequest {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const json = { 'content-type': 'application/json', ...auth };
  const filter = () => enc(r.chance(0.6) ? `${r.pick(LABELS)}${r.pick(['=', '!=', '=~', '!~'])}${JSON.stringify(r.chance(0.4) ? r.pick(NASTY_REGEXES) : r.string(4))}` : r.string(r.int(12)));
  const body = (v: unknown) => {
    let text = JSON.stringify(v);
    if (r.chance(0.15)) text = mutate(r, text);
    if (r.chance(0.03)) text = '['.repeat(100_000);
    return text;
  };
  switch (r.int(7)) {
    case 0:
      return { method: 'POST', path: '/api/v2/alerts', headers: json, body: body(alertBody(r)) };
    case 1:
      return { method: 'POST', path: '/api/v2/silences', headers: json, body: body(silenceBody(r)) };
    case 2:
      return { method: 'GET', path: `/api/v2/alerts?filter=${filter()}&active=${r.pick(['true', 'false', 'maybe'])}${r.chance(0.3) ? `&receiver=${enc(r.pick(NASTY_REGEXES))}` : ''}` };
    case 3:
      return { method: 'GET', path: `/api/v2/silences?filter=${filter()}` };
    case 4:
      return { method: 'GET', path: `/api/v2/alerts/groups?filter=${filter()}` };
    case 5:
      return { method: r.pick(['GET', 'DELETE']), path: `/api/v2/silence/${enc(r.chance(0.5) ? r.string(36, '0123456789abcdef-') : r.string(r.int(300)))}`, headers: auth };
    default:
      return { method: 'GET', path: r.pick(['/api/v2/status', '/api/v2/receivers', '/api/v1/alerts', '/api/v1/rules', '/runbooks', '/api/dpmon/escalations', '/api/dpmon/notifications']) };
  }
}

// ---------------------------------------------------------------- raw HTTP

/** A raw request as bytes on a socket: request lines, headers and bodies HTTP parsers trip on. */
export function rawHttpRequest(r: Random): string {
  const method = r.pick(['GET', 'POST', 'DELETE', 'PUT', 'OPTIONS', 'TRACE', 'CONNECT', 'G\u0000T', 'get', '']);
  const path = r.pick(['/metrics', '/api/v1/query?query=up', '/api/v2/alerts', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '//', '/api/v1/query?query=' + '%'.repeat(10), '*', '/' + 'a'.repeat(r.int(20_000))]);
  const version = r.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9', '']);
  const headers = [`Host: 127.0.0.1`];
  if (r.chance(0.3)) headers.push(`Content-Length: ${r.pick(['5', '-1', '99999999999', 'abc', '0'])}`);
  if (r.chance(0.3)) headers.push('Transfer-Encoding: chunked');
  if (r.chance(0.3)) headers.push(`Content-Type: ${r.pick(['application/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/json; charset=utf-99'])}`);
  if (r.chance(0.2)) headers.push(`X-Big: ${'x'.repeat(r.int(20_000))}`);
  if (r.chance(0.2)) headers.push(r.string(r.int(20)));
  const body = r.chance(0.5) ? r.pick(['{', '[]', 'zz\r\n', '5\r\nhello\r\n0\r\n\r\n', 'query=up', r.string(r.int(100))]) : '';
  return `${method} ${path} ${version}\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n${body}`;
}

// ---------------------------------------------------------------- config loader

/** A YAML config: the seed damaged, or a file built to hurt the loader. */
export function configFile(r: Random, seed: string): string {
  switch (r.int(6)) {
    case 0: {
      const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
      for (let i = 1; i < 3 + r.int(12); i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
      return lines.join('\n');
    }
    case 1:
      return `targets: &t\n  - name: x\n    dsn: postgres://h/db\n    role: ${r.pick(['*t', '*nothing', '*t2'])}\n`;
    case 2:
      return `x: ${'['.repeat(r.int(100_000))}${']'.repeat(r.int(100_000))}\n`;
    default: {
      let text = seed;
      for (let i = 0; i < 1 + r.int(4); i++) text = mutate(r, text);
      return text;
    }
  }
}
