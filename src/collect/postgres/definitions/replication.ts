// Replication: the recovery state and replay lag (any server), senders (pg_stat_replication, on the
// primary or a cascading standby), slots, and the standby's own receiver. Replication interval.
import type { PgDefinition } from '../definition.ts';
import { CURRENT_LSN, counterCol, gaugeCol } from './helpers.ts';

export const replicationDefinition: PgDefinition = {
  name: 'pg_replication',
  interval: 'replication',
  labels: [],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT lag, lag AS lag_legacy, is_replica, last_replay
FROM (
  SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0
              WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
              ELSE GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp())) END AS lag,
         CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica,
         GREATEST(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp())) AS last_replay
) r`,
    },
  ],
  metrics: {
    lag: gaugeCol('pg_replication_lag_seconds', 'Replication lag behind master in seconds'),
    // the name of the older postgres_exporter queries.yaml, still used by the postgres mixin's alert
    lag_legacy: gaugeCol('pg_replication_lag', 'Replication lag behind master in seconds (older postgres_exporter name)'),
    is_replica: gaugeCol('pg_replication_is_replica', 'Indicates if the server is a replica'),
    last_replay: gaugeCol('pg_replication_last_replay_seconds', 'Age of last replay in seconds'),
  },
};

// NULL lag columns mean the standby has caught up and no WAL is flowing: reported as 0. A NULL
// replay_lsn (a standby still starting) gives no byte-lag sample rather than a false 0.
// Two standbys can share all four labels (same host, the default application_name "walreceiver", no
// slot): rows are grouped by the labels, keeping the worst lag, so no family repeats a label set
// (Prometheus rejects a whole scrape with a duplicate series).
export const statReplicationDefinition: PgDefinition = {
  name: 'pg_stat_replication',
  interval: 'replication',
  labels: ['application_name', 'client_addr', 'state', 'slot_name'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT r.application_name, COALESCE(host(r.client_addr), '') AS client_addr, r.state,
       COALESCE(s.slot_name::text, '') AS slot_name,
       max((${CURRENT_LSN} - '0/0'::pg_lsn)::float8) AS pg_current_wal_lsn_bytes,
       max((${CURRENT_LSN} - r.replay_lsn)::float8) AS pg_wal_lsn_diff,
       max(CASE WHEN r.replay_lsn IS NOT NULL THEN GREATEST(0, (${CURRENT_LSN} - r.replay_lsn)::float8) END) AS lag_bytes,
       min(extract(epoch FROM r.reply_time)) AS reply_time,
       max(COALESCE(extract(epoch FROM r.write_lag), 0)) AS write_lag,
       max(COALESCE(extract(epoch FROM r.flush_lag), 0)) AS flush_lag,
       max(COALESCE(extract(epoch FROM r.replay_lag), 0)) AS replay_lag
FROM pg_stat_replication r
LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
GROUP BY 1, 2, 3, 4`,
    },
  ],
  metrics: {
    pg_current_wal_lsn_bytes: gaugeCol('pg_stat_replication_pg_current_wal_lsn_bytes', 'WAL position in bytes'),
    pg_wal_lsn_diff: gaugeCol('pg_stat_replication_pg_wal_lsn_diff', 'Lag in bytes between master and slave'),
    reply_time: gaugeCol('pg_stat_replication_reply_time', 'Send time of last reply message received from standby server'),
    lag_bytes: gaugeCol('dpmon_pg_replication_lag_bytes', 'WAL bytes the standby has not replayed yet'),
    write_lag: gaugeCol('dpmon_pg_replication_write_lag_seconds', 'Time until the standby wrote recent WAL'),
    flush_lag: gaugeCol('dpmon_pg_replication_flush_lag_seconds', 'Time until the standby flushed recent WAL'),
    replay_lag: gaugeCol('dpmon_pg_replication_replay_lag_seconds', 'Time until the standby replayed recent WAL'),
  },
};

const SLOT = ['slot_name', 'slot_type'];
const SLOT_DB = ['slot_name', 'database'];

export const replicationSlotsDefinition: PgDefinition = {
  name: 'pg_replication_slots',
  interval: 'replication',
  labels: ['slot_name', 'slot_type', 'database', 'wal_status'],
  variants: [
    {
      // wal_status and safe_wal_size exist since PostgreSQL 13
      minVersion: 13,
      sql: `
SELECT slot_name::text, slot_type, COALESCE(database::text, '') AS database, COALESCE(wal_status, '') AS wal_status,
       active::int AS active,
       (${CURRENT_LSN} - restart_lsn)::float8 AS pg_wal_lsn_diff,
       (${CURRENT_LSN} - '0/0'::pg_lsn)::float8 AS current_wal_lsn,
       (COALESCE(confirmed_flush_lsn, '0/0'::pg_lsn) - '0/0'::pg_lsn)::float8 AS confirmed_flush_lsn,
       safe_wal_size,
       CASE WHEN wal_status IS NOT NULL THEN 1 END AS wal_status_info
FROM pg_replication_slots`,
    },
  ],
  metrics: {
    active: gaugeCol('pg_replication_slots_active', 'Flag indicating if the slot is active', { labels: SLOT_DB }),
    pg_wal_lsn_diff: gaugeCol('pg_replication_slots_pg_wal_lsn_diff', 'Replication lag in bytes', { labels: SLOT_DB }),
    current_wal_lsn: gaugeCol('pg_replication_slots_slot_current_wal_lsn', 'current wal lsn value', { labels: SLOT }),
    confirmed_flush_lsn: gaugeCol('pg_replication_slots_slot_confirmed_flush_lsn', 'last lsn confirmed flushed to the replication slot', {
      labels: SLOT,
    }),
    safe_wal_size: gaugeCol('pg_replication_slots_safe_wal_size_bytes', 'number of bytes that can be written to WAL such that this slot is not in danger of getting in state lost', {
      labels: SLOT,
    }),
    wal_status_info: gaugeCol('pg_replication_slots_wal_status', 'availability of WAL files claimed by this slot', {
      labels: ['slot_name', 'slot_type', 'wal_status'],
    }),
  },
};

// A second definition for the retained-WAL gauge keeps pg_replication_slots' label sets exactly
// postgres_exporter's while giving dpmon's name all three identifying labels.
export const replicationSlotRetainedDefinition: PgDefinition = {
  name: 'pg_replication_slot_retained_wal',
  interval: 'replication',
  labels: ['slot_name', 'slot_type', 'database'],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT slot_name::text, slot_type, COALESCE(database::text, '') AS database,
       GREATEST(0, ${CURRENT_LSN} - restart_lsn)::float8 AS retained
FROM pg_replication_slots`,
    },
  ],
  metrics: {
    retained: gaugeCol('dpmon_pg_replication_slot_retained_wal_bytes', 'WAL bytes the slot keeps from being removed'),
  },
};

export const standbyDefinition: PgDefinition = {
  name: 'pg_standby',
  interval: 'replication',
  onlyOn: 'standby',
  labels: [],
  variants: [
    {
      minVersion: 13,
      sql: `
SELECT GREATEST(0, w.latest_end_lsn - pg_last_wal_receive_lsn())::float8 AS receive_lag,
       GREATEST(0, pg_last_wal_receive_lsn() - pg_last_wal_replay_lsn())::float8 AS replay_lag
FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver w ON true`,
    },
  ],
  metrics: {
    receive_lag: gaugeCol('dpmon_pg_standby_receive_lag_bytes', 'WAL bytes the primary reported but this standby has not received yet'),
    replay_lag: gaugeCol('dpmon_pg_standby_replay_lag_bytes', 'WAL bytes received but not replayed yet'),
  },
};

const lsn = (col: string) => `((${col} - '0/0'::pg_lsn) % (2^52)::bigint)::float8 AS ${col}`;

export const walReceiverDefinition: PgDefinition = {
  name: 'pg_stat_wal_receiver',
  interval: 'replication',
  onlyOn: 'standby',
  labels: ['upstream_host', 'slot_name', 'status'],
  variants: [
    {
      // flushed_lsn (renamed from received_lsn) exists since PostgreSQL 13
      minVersion: 13,
      sql: `
SELECT COALESCE(trim(both '''' FROM substring(conninfo FROM 'host=([^ ]*)')), '') AS upstream_host,
       COALESCE(slot_name, '') AS slot_name, status,
       ${lsn('receive_start_lsn')}, ${lsn('flushed_lsn')}, receive_start_tli, received_tli,
       extract(epoch FROM last_msg_send_time) AS last_msg_send_time,
       extract(epoch FROM last_msg_receipt_time) AS last_msg_receipt_time,
       ${lsn('latest_end_lsn')},
       extract(epoch FROM latest_end_time) AS latest_end_time
FROM pg_stat_wal_receiver`,
    },
  ],
  metrics: {
    receive_start_lsn: counterCol('pg_stat_wal_receiver_receive_start_lsn', 'First write-ahead log location used when WAL receiver is started represented as a decimal'),
    flushed_lsn: counterCol('pg_stat_wal_receiver_flushed_lsn', 'Last write-ahead log location already received and flushed to disk, the initial value of this field being the first log location used when WAL receiver is started represented as a decimal'),
    receive_start_tli: gaugeCol('pg_stat_wal_receiver_receive_start_tli', 'First timeline number used when WAL receiver is started'),
    received_tli: gaugeCol('pg_stat_wal_receiver_received_tli', 'Timeline number of last write-ahead log location received and flushed to disk'),
    last_msg_send_time: counterCol('pg_stat_wal_receiver_last_msg_send_time', 'Send time of last message received from origin WAL sender'),
    last_msg_receipt_time: counterCol('pg_stat_wal_receiver_last_msg_receipt_time', 'Receipt time of last message received from origin WAL sender'),
    latest_end_lsn: counterCol('pg_stat_wal_receiver_latest_end_lsn', 'Last write-ahead log location reported to origin WAL sender as integer'),
    latest_end_time: counterCol('pg_stat_wal_receiver_latest_end_time', 'Time of last write-ahead log location reported to origin WAL sender'),
  },
};
