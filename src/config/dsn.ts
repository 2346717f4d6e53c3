// PostgreSQL connection strings: URL (`postgres://`, `postgresql://`) or libpq `key=value` pairs.
// Problems are described without ever repeating the DSN text, which may hold a password.

/** libpq connection parameters (PostgreSQL 17 `libpq-connect.html#LIBPQ-PARAMKEYWORDS`). */
const LIBPQ_KEYS = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'require_auth', 'channel_binding',
  'connect_timeout', 'client_encoding', 'options', 'application_name', 'fallback_application_name',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout',
  'replication', 'gssencmode', 'sslmode', 'requiressl', 'sslnegotiation', 'sslcompression', 'sslcert', 'sslkey',
  'sslkeylogfile', 'sslpassword', 'sslcertmode', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni', 'requirepeer',
  'ssl_min_protocol_version', 'ssl_max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation', 'service',
  'target_session_attrs', 'load_balance_hosts',
]);

/**
 * The parameters dpmon's driver (node-postgres) honours; `src/collect/postgres/client-config.ts` maps
 * them. Others are libpq-only (service files, multiple hosts, GSSAPI...): accepting them would be a
 * promise dpmon cannot keep, so they are errors naming the parameter.
 */
export const SUPPORTED_DSN_KEYS = new Set([
  'host', 'port', 'dbname', 'user', 'password', 'connect_timeout', 'options', 'application_name',
  'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'keepalives', 'keepalives_idle',
]);

const SSL_MODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']);

export interface ParsedDsn {
  readonly form: 'url' | 'keyvalue';
  /** libpq parameters, URL parts included (host, port, dbname, user, password) */
  readonly params: Readonly<Record<string, string>>;
}

/** Parses a DSN, or returns `{ problem }` describing what is wrong without quoting the DSN. */
export function parseDsn(dsn: string): ParsedDsn | { problem: string } {
  const text = dsn.trim();
  if (text === '') return { problem: 'empty DSN' };
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text);
  if (scheme) {
    const s = (scheme[1] as string).toLowerCase();
    if (s !== 'postgres' && s !== 'postgresql') {
      return { problem: `unsupported scheme "${s}://": expected postgres:// or postgresql://` };
    }
    return parseUrl(text);
  }
  return parseKeyValue(text);
}

function parseUrl(text: string): ParsedDsn | { problem: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      problem:
        'not a valid postgres:// URL (expected postgres://user:password@host:port/dbname; check that the port is a number and that special characters such as @ : / # in the user name or password are percent-encoded)',
    };
  }
  const params: Record<string, string> = {};
  try {
    if (url.hostname) params.host = decodeURIComponent(url.hostname.replace(/^\[|\]$/g, ''));
    if (url.port) params.port = url.port;
    if (url.username) params.user = decodeURIComponent(url.username);
    if (url.password) params.password = decodeURIComponent(url.password);
    const db = url.pathname.replace(/^\//, '');
    if (db) params.dbname = decodeURIComponent(db);
  } catch {
    return { problem: 'invalid percent-encoding in the URL' };
  }
  for (const [k, v] of url.searchParams) {
    if (!LIBPQ_KEYS.has(k)) return { problem: `unknown connection parameter "${k}" in the URL query` };
    params[k] = v;
  }
  return checkParams(params) ?? { form: 'url', params };
}

function parseKeyValue(text: string): ParsedDsn | { problem: string } {
  const params: Record<string, string> = {};
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(text[i] as string)) i++;
  };
  skipSpace();
  while (i < n) {
    const keyStart = i;
    while (i < n && /[A-Za-z0-9_]/.test(text[i] as string)) i++;
    const key = text.slice(keyStart, i);
    skipSpace();
    if (!key || text[i] !== '=') {
      return {
        problem: key
          ? `expected "=" after "${key}" (a DSN is a postgres:// URL or key=value pairs separated by spaces)`
          : 'not a postgres:// URL or key=value pairs separated by spaces',
      };
    }
    if (!LIBPQ_KEYS.has(key)) return { problem: `unknown connection parameter "${key}"` };
    i++;
    skipSpace();
    let value = '';
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i] as string;
        if (c === '\\' && i + 1 < n) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          closed = true;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return { problem: `unterminated quoted value for "${key}"` };
    } else {
      while (i < n && !/\s/.test(text[i] as string)) {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
    }
    params[key] = value;
    skipSpace();
  }
  return checkParams(params) ?? { form: 'keyvalue', params };
}

function checkParams(params: Record<string, string>): { problem: string } | undefined {
  for (const key of Object.keys(params)) {
    if (!SUPPORTED_DSN_KEYS.has(key)) return { problem: `connection parameter "${key}" is not supported by dpmon (it is libpq-only)` };
  }
  if ((params.host ?? '').includes(',')) return { problem: 'several hosts in one DSN are not supported: configure one target per server' };
  if (params.sslmode !== undefined && !SSL_MODES.has(params.sslmode)) {
    return { problem: `sslmode "${params.sslmode}" is not one of ${[...SSL_MODES].join(', ')}` };
  }
  if (params.port === undefined) return undefined;
  const port = Number(params.port);
  if (!/^\d+$/.test(params.port) || port < 1 || port > 65535) return { problem: `port "${params.port}" is not a number from 1 to 65535` };
  return undefined;
}

/** The DSN with its password replaced by `****`, for logs and messages. */
export function redactDsn(dsn: string): string {
  const parsed = parseDsn(dsn);
  if ('problem' in parsed) return '<invalid DSN>';
  if (parsed.form === 'url') {
    try {
      const url = new URL(dsn.trim());
      if (url.password) url.password = '****';
      if (url.searchParams.has('password')) url.searchParams.set('password', '****');
      return url.toString();
    } catch {
      return '<invalid DSN>';
    }
  }
  return Object.entries(parsed.params)
    .map(([k, v]) => `${k}=${k === 'password' ? '****' : /[\s'\\]|^$/.test(v) ? `'${v.replace(/[\\']/g, '\\$&')}'` : v}`)
    .join(' ');
}
