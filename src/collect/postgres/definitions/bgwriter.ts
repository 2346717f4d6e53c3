// Background writer and checkpointer. PostgreSQL 17 moved the checkpoint columns from pg_stat_bgwriter
// to pg_stat_checkpointer (and dropped buffers_backend*, now in pg_stat_io): the 17 variant reads both
// views and keeps the pg_stat_bgwriter_* names, so dashboards built on them keep working; the columns
// that no longer exist are simply not emitted. pg_stat_checkpointer_* (postgres_exporter's 17 names)
// are served as well.
import type { PgDefinition } from '../definition.ts';
import { counterCol } from './helpers.ts';

const bg = (col: string, help: string) => counterCol(`pg_stat_bgwriter_${col}_total`, help);

export const bgwriterDefinition: PgDefinition = {
  name: 'pg_stat_bgwriter',
  interval: 'default',
  labels: [],
  variants: [
    {
      minVersion: 13,
      maxVersion: 16,
      sql: `
SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, buffers_checkpoint,
       buffers_clean, maxwritten_clean, buffers_backend, buffers_backend_fsync, buffers_alloc,
       extract(epoch FROM stats_reset) AS stats_reset
FROM pg_stat_bgwriter`,
    },
    {
      minVersion: 17,
      sql: `
SELECT c.num_timed AS checkpoints_timed, c.num_requested AS checkpoints_req,
       c.write_time AS checkpoint_write_time, c.sync_time AS checkpoint_sync_time,
       c.buffers_written AS buffers_checkpoint,
       b.buffers_clean, b.maxwritten_clean, b.buffers_alloc,
       extract(epoch FROM b.stats_reset) AS stats_reset
FROM pg_stat_bgwriter b CROSS JOIN pg_stat_checkpointer c`,
    },
  ],
  metrics: {
    checkpoints_timed: bg('checkpoints_timed', 'Number of scheduled checkpoints that have been performed'),
    checkpoints_req: bg('checkpoints_req', 'Number of requested checkpoints that have been performed'),
    checkpoint_write_time: bg('checkpoint_write_time', 'Total amount of time that has been spent in the portion of checkpoint processing where files are written to disk, in milliseconds'),
    checkpoint_sync_time: bg('checkpoint_sync_time', 'Total amount of time that has been spent in the portion of checkpoint processing where files are synchronized to disk, in milliseconds'),
    buffers_checkpoint: bg('buffers_checkpoint', 'Number of buffers written during checkpoints'),
    buffers_clean: bg('buffers_clean', 'Number of buffers written by the background writer'),
    maxwritten_clean: bg('maxwritten_clean', 'Number of times the background writer stopped a cleaning scan because it had written too many buffers'),
    buffers_backend: bg('buffers_backend', 'Number of buffers written directly by a backend'),
    buffers_backend_fsync: bg('buffers_backend_fsync', 'Number of times a backend had to execute its own fsync call'),
    buffers_alloc: bg('buffers_alloc', 'Number of buffers allocated'),
    stats_reset: bg('stats_reset', 'Time at which these statistics were last reset'),
  },
};

const cp = (col: string, help: string) => counterCol(`pg_stat_checkpointer_${col}_total`, help);

export const checkpointerDefinition: PgDefinition = {
  name: 'pg_stat_checkpointer',
  interval: 'default',
  labels: [],
  variants: [
    {
      minVersion: 17,
      sql: `
SELECT num_timed, num_requested, restartpoints_timed, restartpoints_req, restartpoints_done,
       write_time, sync_time, buffers_written, extract(epoch FROM stats_reset) AS stats_reset
FROM pg_stat_checkpointer`,
    },
  ],
  metrics: {
    num_timed: cp('num_timed', 'Number of scheduled checkpoints due to timeout'),
    num_requested: cp('num_requested', 'Number of requested checkpoints that have been performed'),
    restartpoints_timed: cp('restartpoints_timed', 'Number of scheduled restartpoints due to timeout or after a failed attempt to perform it'),
    restartpoints_req: cp('restartpoints_req', 'Number of requested restartpoints'),
    restartpoints_done: cp('restartpoints_done', 'Number of restartpoints that have been performed'),
    write_time: cp('write_time', 'Total amount of time that has been spent in the portion of processing checkpoints and restartpoints where files are written to disk, in milliseconds'),
    sync_time: cp('sync_time', 'Total amount of time that has been spent in the portion of processing checkpoints and restartpoints where files are synchronized to disk, in milliseconds'),
    buffers_written: cp('buffers_written', 'Number of buffers written during checkpoints and restartpoints'),
    stats_reset: cp('stats_reset', 'Time at which these statistics were last reset'),
  },
};
