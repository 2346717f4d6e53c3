// The one error class PromQL evaluation throws. errorType follows Prometheus's API error types:
// bad_data (the query is wrong or uses something dpmon does not support) → 400, execution → 422,
// timeout (past server.query_timeout or the timeout parameter) and canceled (the client went away) → 503.
import type { QueryLimit } from './stats.ts';

export type QueryErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled';

export class QueryError extends Error {
  readonly errorType: QueryErrorType;
  /** true when the query is valid PromQL that dpmon's evaluator does not implement */
  readonly unsupported: boolean;
  /** the limit that ended the query, if one did (docs/promql.md "Limits") */
  readonly limit?: QueryLimit;
  constructor(errorType: QueryErrorType, message: string, opts: { unsupported?: boolean; cause?: unknown; limit?: QueryLimit } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'QueryError';
    this.errorType = errorType;
    this.unsupported = opts.unsupported ?? false;
    if (opts.limit) this.limit = opts.limit;
  }
}

export const badData = (msg: string) => new QueryError('bad_data', msg);
export const unsupported = (what: string) => new QueryError('bad_data', `unsupported ${what}`, { unsupported: true });
export const execError = (msg: string) => new QueryError('execution', msg);
