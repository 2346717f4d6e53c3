// PromQL for dpmon: the evaluator (createQueryEngine), its error class, and selector parsing for the
// HTTP API's match[] parameters.
export {
  createQueryEngine,
  formatValue,
  DEFAULT_MAX_SAMPLES,
  DEFAULT_QUERY_TIMEOUT_MS,
  type QueryEngine,
  type QueryEngineOptions,
  type QueryOptions,
  type QueryResult,
  type SampleValue,
} from './engine.ts';
export { createQueryGate, type QueryGate } from './gate.ts';
export { createQueryStats, type QueryStats } from './stats.ts';
export { QueryError, type QueryErrorType } from './errors.ts';
export { DEFAULT_PARSE_LIMITS, parseExpr, parseSeriesSelector, type ParseLimits } from './parse.ts';
