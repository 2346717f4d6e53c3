// The config module's public face: load, print, errors, the typed Config and its parts.
export { loadConfig, printConfig, DEFAULTS_FILE, type ConfigChecks, type LoadedConfig, type LoadOptions } from './load.ts';
export {
  ConfigError,
  formatConfigIssue,
  formatPath,
  CONFIG_ERROR_CODES,
  type ConfigIssue,
  type ConfigIssueCode,
} from './errors.ts';
export * from './schema.ts';
export { parseDsn, redactDsn, type ParsedDsn } from './dsn.ts';
export { SECRET_PATHS, isSecretPath } from './secrets.ts';
export {
  parsePercent,
  parseThreshold,
  parseLagThreshold,
  parseListen,
  isLoopbackHost,
  type Threshold,
  type ThresholdKind,
  type LagThreshold,
} from './values.ts';
