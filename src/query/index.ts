// PromQL for dpmon: the evaluator (createQueryEngine), its error class, and selector parsing for the
// HTTP API's match[] parameters.
export { createQueryEngine, formatValue, type QueryEngine, type QueryEngineOptions, type QueryResult, type SampleValue } from './engine.ts';
export { QueryError, type QueryErrorType } from './errors.ts';
export { parseExpr, parseSeriesSelector } from './parse.ts';
