// Every advice check, in the order the report lists them. A new check is one file and one line here.
import type { Check } from '../check.ts';
import { missingIndex } from './missing-index.ts';
import { unusedIndex } from './unused-index.ts';
import { duplicateIndex } from './duplicate-index.ts';
import { staleStatistics } from './stale-statistics.ts';
import { bloat } from './bloat.ts';
import { wraparound } from './wraparound.ts';
import { idleInTransaction } from './idle-in-transaction.ts';
import { deadlockCounter } from './deadlocks.ts';
import { deadlockReports } from './deadlock-reports.ts';

export const CHECKS: readonly Check[] = [
  missingIndex, unusedIndex, duplicateIndex, staleStatistics, bloat, wraparound, idleInTransaction, deadlockCounter, deadlockReports,
];
