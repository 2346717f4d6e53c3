// From a target's DSN (a postgres:// URL or libpq key=value pairs, validated by the config) to the
// node-postgres client options. pg's own connectionString parser does not read key=value DSNs, so
// both forms go through the config's parser and this one mapping.
import { readFileSync } from 'node:fs';
import type { ClientConfig } from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { parseDsn } from '../../config/dsn.ts';

export function pgClientConfig(dsn: string): ClientConfig {
  const parsed = parseDsn(dsn);
  if ('problem' in parsed) throw new Error(`invalid DSN: ${parsed.problem}`);
  const p = parsed.params;
  const config: ClientConfig = {};
  if (p.host !== undefined) config.host = p.host;
  if (p.port !== undefined) config.port = Number(p.port);
  if (p.dbname !== undefined) config.database = p.dbname;
  if (p.user !== undefined) config.user = p.user;
  if (p.password !== undefined) config.password = p.password;
  if (p.options !== undefined) config.options = p.options;
  if (p.connect_timeout !== undefined) config.connectionTimeoutMillis = Number(p.connect_timeout) * 1000;
  if (p.keepalives !== undefined) config.keepAlive = p.keepalives !== '0';
  if (p.keepalives_idle !== undefined) config.keepAliveInitialDelayMillis = Number(p.keepalives_idle) * 1000;
  const ssl = sslOptions(p);
  if (ssl !== undefined) config.ssl = ssl;
  return config;
}

/**
 * libpq's sslmode: `require` encrypts without checking the certificate (unless sslrootcert is given,
 * which libpq then verifies like verify-ca), `verify-ca` checks the chain, `verify-full` the host name
 * too. node-postgres has no opportunistic TLS, so `allow` and `prefer` (libpq's default) connect
 * without TLS: a DBA who needs encryption says `require` or stricter.
 */
function sslOptions(p: Readonly<Record<string, string>>): false | ConnectionOptions | undefined {
  const mode = p.sslmode;
  if (mode === undefined || mode === 'disable' || mode === 'allow' || mode === 'prefer') return mode === undefined ? undefined : false;
  const tls: ConnectionOptions = {};
  if (p.sslrootcert) tls.ca = readFileSync(p.sslrootcert, 'utf8');
  if (p.sslcert) tls.cert = readFileSync(p.sslcert, 'utf8');
  if (p.sslkey) tls.key = readFileSync(p.sslkey, 'utf8');
  const verify = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && p.sslrootcert !== undefined);
  tls.rejectUnauthorized = verify;
  if (verify && mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  return tls;
}
