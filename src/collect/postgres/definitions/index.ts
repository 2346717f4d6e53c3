// Every built-in PostgreSQL definition, in the order a run executes them.
import type { PgDefinition } from '../definition.ts';
import { activitySessionsDefinition, activitySummaryDefinition, connectionsDefinition, statActivityDefinition } from './activity.ts';
import { bgwriterDefinition, checkpointerDefinition } from './bgwriter.ts';
import { databaseDefinition, statDatabaseConflictsDefinition, statDatabaseDefinition } from './database.ts';
import { blockedSessionsDefinition, locksDefinition } from './locks.ts';
import {
  replicationDefinition,
  replicationSlotRetainedDefinition,
  replicationSlotsDefinition,
  standbyDefinition,
  statReplicationDefinition,
  walReceiverDefinition,
} from './replication.ts';
import { archiverDefinition, serverDefinition, settingsDefinition } from './server.ts';
import { statStatementsDefinition } from './statements.ts';
import {
  indexSizesDefinition,
  statioUserIndexesDefinition,
  statioUserTablesDefinition,
  tableSizesDefinition,
  userIndexesDefinition,
  userTablesDefinition,
} from './tables.ts';
import { statWalDefinition, walDefinition, walPositionDefinition } from './wal.ts';

export const postgresDefinitions: readonly PgDefinition[] = [
  serverDefinition,
  connectionsDefinition,
  statActivityDefinition,
  activitySessionsDefinition,
  activitySummaryDefinition,
  locksDefinition,
  blockedSessionsDefinition,
  statDatabaseDefinition,
  statDatabaseConflictsDefinition,
  databaseDefinition,
  settingsDefinition,
  archiverDefinition,
  bgwriterDefinition,
  checkpointerDefinition,
  walDefinition,
  statWalDefinition,
  walPositionDefinition,
  replicationDefinition,
  statReplicationDefinition,
  replicationSlotsDefinition,
  replicationSlotRetainedDefinition,
  standbyDefinition,
  walReceiverDefinition,
  statStatementsDefinition,
  userTablesDefinition,
  tableSizesDefinition,
  statioUserTablesDefinition,
  statioUserIndexesDefinition,
  userIndexesDefinition,
  indexSizesDefinition,
];
