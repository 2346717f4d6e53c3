// Numbers, units and times as a person reads them. Units are Grafana's unit ids (the dashboards'
// definitions use them): percent (0–100), percentunit (0–1), bytes, s, ms, short, ops, Bps, reqps.

const SI = ['', 'k', 'M', 'G', 'T', 'P'];
const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function trim(n, digits = 3) {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs === 0) return '0';
  if (abs >= 100) return n.toFixed(0);
  return Number(n.toPrecision(digits)).toString();
}

function scaled(v, base, names, suffix = '') {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < names.length - 1) {
    x /= base;
    i++;
  }
  return `${trim(x)} ${names[i]}${suffix}`.trim();
}

function duration(sec) {
  const abs = Math.abs(sec);
  if (abs === 0) return '0 s';
  if (abs < 1e-3) return `${trim(sec * 1e6)} µs`;
  if (abs < 1) return `${trim(sec * 1e3)} ms`;
  if (abs < 120) return `${trim(sec)} s`;
  if (abs < 7200) return `${trim(sec / 60)} min`;
  if (abs < 172800) return `${trim(sec / 3600)} h`;
  return `${trim(sec / 86400)} d`;
}

/** A value in its unit: 42.1 %, 1.5 GiB, 250 ms, 3.2k. */
export function formatValue(v, unit = 'short') {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  switch (unit) {
    case 'percent':
      return `${trim(v)} %`;
    case 'percentunit':
      return `${trim(v * 100)} %`;
    case 'bytes':
      return scaled(v, 1024, IEC);
    case 'Bps':
      return `${scaled(v, 1024, IEC)}/s`;
    case 's':
      return duration(v);
    case 'ms':
      return duration(v / 1000);
    case 'ops':
      return `${scaled(v, 1000, SI)} ops/s`;
    case 'reqps':
      return `${scaled(v, 1000, SI)} req/s`;
    default:
      return scaled(v, 1000, SI);
  }
}

/** "3 min ago", "in 12 s". */
export function relative(iso, now = Date.now()) {
  if (!iso) return '';
  const d = (new Date(iso).getTime() - now) / 1000;
  const abs = Math.abs(d);
  const text = abs < 60 ? `${Math.round(abs)} s` : abs < 3600 ? `${Math.round(abs / 60)} min` : abs < 172800 ? `${trim(abs / 3600, 2)} h` : `${Math.round(abs / 86400)} d`;
  return d < 0 ? `${text} ago` : `in ${text}`;
}

/** "2026-12-07 16:50:02" in the browser's time zone. */
export function timestamp(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A series' name from a Prometheus legend format ("{{instance}} {{datname}}"), else its labels. */
export function legendOf(metric, legend) {
  if (legend) return legend.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, k) => metric[k] ?? '');
  const { __name__, ...rest } = metric;
  const inner = Object.entries(rest)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${__name__ ?? ''}${inner ? `{${inner}}` : __name__ ? '' : '{}'}`;
}
