// Every built-in action file: adding an action is a file under actions/ and a line here.
import type { ActionDefinition } from '../types.ts';
import { analyzeTablesAction } from './analyze-tables.ts';
import { cleanupTempAction } from './cleanup-temp.ts';
import { compressLogsAction } from './compress-logs.ts';
import { killQueryAction } from './kill-query.ts';
import { logConnectionDetailsAction } from './log-connection-details.ts';
import { reniceBackgroundAction } from './renice-background.ts';
import { rotateBackupsAction } from './rotate-backups.ts';
import { scaleConnectionPoolAction } from './scale-connection-pool.ts';
import { terminateIdleConnectionsAction } from './terminate-idle-connections.ts';

export const ACTIONS: readonly ActionDefinition[] = [
  terminateIdleConnectionsAction,
  killQueryAction,
  analyzeTablesAction,
  logConnectionDetailsAction,
  scaleConnectionPoolAction,
  cleanupTempAction,
  compressLogsAction,
  rotateBackupsAction,
  reniceBackgroundAction,
];
