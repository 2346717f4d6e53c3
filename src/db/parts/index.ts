// Every part `dpmon db install` installs, in install order.
import type { DbPart } from '../part.ts';
import { auditDdl } from './audit-ddl.ts';
import { slowQueries } from './slow-queries.ts';

export const DB_PARTS: readonly DbPart[] = [slowQueries, auditDdl];
