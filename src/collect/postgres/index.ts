// PostgreSQL collection: definitions as data, the runner that executes them, and the per-target collector.
export { chooseVariant, type PgDefinition, type PgInterval, type PgMetricColumn, type PgParam, type PgVariant } from './definition.ts';
export { postgresDefinitions } from './definitions/index.ts';
export { runDefinition, SQL_TAG, tagSql, toNumber, type ParamValues, type Queryable } from './runner.ts';
export { createPostgresTarget, type PostgresTarget, type PostgresTargetOptions } from './target.ts';
