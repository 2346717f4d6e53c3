// The shapes of the notification pipeline's rows in state.db (outbox bodies, escalations, dispatch groups
// and pages, posted alerts), as zod schemas that readStored() checks on every read (src/store/state-db.ts).
// They accept everything the pipeline has written: JSON turns NaN and ±Infinity into null, and fields
// added later are optional. Objects are loose: a field written by a newer build is kept, not refused.
import { z } from 'zod';

/** a number as JSON keeps it: NaN and ±Infinity come back as null */
export const storedNumber = z.number().nullable();
const labels = z.record(z.string(), z.string());
const severity = z.enum(['high', 'medium', 'low']);

export const StoredNotifyAlert = z.looseObject({
  fingerprint: z.string(),
  status: z.enum(['firing', 'resolved']),
  labels,
  annotations: labels,
  startsAt: storedNumber,
  endsAt: storedNumber.optional(),
  generatorURL: z.string().optional(),
  value: storedNumber.optional(),
  threshold: storedNumber.optional(),
});

export const StoredIncident = z.looseObject({
  id: z.string(),
  rootCause: z.string(),
  rootFingerprint: z.string(),
  impact: z.looseObject({ summary: z.string(), targets: z.array(z.string()), databases: z.array(z.string()), services: z.array(z.string()) }),
});

export const StoredNotification = z.looseObject({
  id: z.string(),
  receiver: z.string(),
  groupKey: z.string(),
  groupLabels: labels,
  commonLabels: labels,
  commonAnnotations: labels,
  status: z.enum(['firing', 'resolved']),
  severity,
  alerts: z.array(StoredNotifyAlert),
  incident: StoredIncident.optional(),
  event: z.enum(['trigger', 'acknowledge', 'resolve']),
  escalation: z.looseObject({ level: z.number(), responder: z.string() }).optional(),
  remediation: z.string().optional(),
  externalURL: z.string(),
  createdAt: storedNumber,
});

export const StoredEscalation = z.looseObject({
  incidentId: z.string(),
  fingerprints: z.array(z.string()),
  startedAt: storedNumber,
  level: z.number(),
  responder: z.string(),
  notifiedAt: storedNumber,
  nextAt: storedNumber,
  ackedAt: storedNumber.optional(),
  ackedBy: z.string().optional(),
  comment: z.string().optional(),
  resolvedAt: storedNumber.optional(),
  paged: z.array(z.string()).optional(),
  routed: z.array(z.string()).optional(),
  notification: StoredNotification,
});

export const StoredGroupFlushState = z.looseObject({
  groupKey: z.string(),
  receiver: z.string(),
  at: storedNumber,
  firing: z.array(z.string()),
  resolved: z.array(z.string()),
});

const StoredGroupPage = z.looseObject({ receiver: z.string(), severity, incident: StoredIncident.optional() });
/** one page per row before receivers were kept as a list */
export const StoredGroupPages = z.union([z.array(StoredGroupPage), StoredGroupPage]);

/** an alert posted to /api/v2/alerts, as the pipeline keeps it */
export const StoredPostedAlert = StoredNotifyAlert.extend({
  source: z.enum(['rules', 'api']),
  activeAt: storedNumber,
  updatedAt: storedNumber,
});

/** one entry of the posted alerts log */
export const StoredPostedAlertEntry = z.looseObject({ set: z.array(z.looseObject({ fingerprint: z.string() })), deleted: z.array(z.string()) });
