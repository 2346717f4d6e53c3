// The contract between the alert pipeline and its integrations: what a notification is, what a
// notifier does with it, and how it fails. Integrations live in src/notify/integrations/<type>/, one
// folder each, listed in its index.ts; the pipeline (outbox, retries, escalation) owns
// everything about when and how often, a notifier only how one notification becomes one request.
import type { Labels } from './labels.ts';
import type { Severity } from './severity.ts';

export type { Severity };

/** A channel's type (`pagerduty`, `slack`, …): the name of its folder under src/notify/integrations/, whose index.ts lists them. */
export type ChannelType = string;

/** One alert as notifications carry it (Alertmanager's alert model). */
export interface NotifyAlert {
  readonly fingerprint: string;
  readonly status: 'firing' | 'resolved';
  /** alertname, severity, instance, … */
  readonly labels: Labels;
  /** summary, description, runbook_url, … */
  readonly annotations: Readonly<Record<string, string>>;
  /** epoch ms */
  readonly startsAt: number;
  /** epoch ms; set when resolved */
  readonly endsAt?: number;
  /** a link to the graph of the alert's expression */
  readonly generatorURL?: string;
  /** the value that fired, and the threshold it crossed, when the rule has one */
  readonly value?: number;
  readonly threshold?: number;
}

/** Alerts gathered under one root cause (correlation). */
export interface Incident {
  /** stable per incident: PagerDuty's dedup_key, the subject of acks and escalation */
  readonly id: string;
  /** a sentence naming the cause: "replication slot standby1 on pg is inactive and retains 3.2 GB of WAL" */
  readonly rootCause: string;
  /** the fingerprint of the root-cause alert */
  readonly rootFingerprint: string;
  readonly impact: {
    readonly summary: string;
    readonly targets: readonly string[];
    readonly databases: readonly string[];
    readonly services: readonly string[];
  };
}

/** What a notifier is asked to send: one aggregation group's alerts for one receiver. */
export interface Notification {
  /** unique per notification attempt chain; idempotency key of the outbox */
  readonly id: string;
  readonly receiver: string;
  /** the aggregation group (route + group_by values) */
  readonly groupKey: string;
  readonly groupLabels: Labels;
  /** labels every alert of the group shares */
  readonly commonLabels: Labels;
  readonly commonAnnotations: Readonly<Record<string, string>>;
  /** firing if any alert fires */
  readonly status: 'firing' | 'resolved';
  readonly severity: Severity;
  readonly alerts: readonly NotifyAlert[];
  readonly incident?: Incident;
  /** PagerDuty-style event: trigger, acknowledge (an ack arrived) or resolve */
  readonly event: 'trigger' | 'acknowledge' | 'resolve';
  /** 1-based escalation level when sent by escalation, with its responder */
  readonly escalation?: { readonly level: number; readonly responder: string };
  /** what auto-remediation did about the incident's alerts, on an escalation page that goes on despite it */
  readonly remediation?: string;
  /** dpmon's own URL, for links back (the dashboard, the alert's API) */
  readonly externalURL: string;
  /** epoch ms the notification was created */
  readonly createdAt: number;
}

export type NotifyFailureReason = 'clientError' | 'serverError' | 'authError' | 'rateLimited' | 'timeout' | 'other';

/** A failed send. retryable: 5xx, 429, timeouts, network errors; not: other 4xx (recorded, dropped). */
export class NotifyError extends Error {
  override readonly name = 'NotifyError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly reason: NotifyFailureReason,
    readonly options: { cause?: unknown; status?: number; retryAfterMs?: number } = {},
  ) {
    super(message, { cause: options.cause });
  }
}

export interface Notifier {
  readonly type: ChannelType;
  /** sends one notification; resolves when the receiver accepted it, throws NotifyError otherwise */
  notify(n: Notification, signal: AbortSignal): Promise<void>;
}
