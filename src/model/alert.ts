// Alerts as they cross the boundary between the alert pipeline and the Alertmanager API: what the
// pipeline lists (ApiAlertInput) and what a POST /api/v2/alerts hands it (PostedAlert). Both sides
// import them from here, so neither imports the other.
import type { Labels } from './labels.ts';

/** One alert as the pipeline shows it to the API. */
export interface ApiAlertInput {
  readonly fingerprint: string;
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, string>>;
  /** epoch ms */
  readonly startsAt: number;
  /** epoch ms; absent while firing with no known end, in the past once resolved (then it is not listed) */
  readonly endsAt?: number;
  /** epoch ms of the last change; startsAt when absent */
  readonly updatedAt?: number;
  readonly generatorURL?: string;
  /** the receivers its routes lead to; `receiversFor(labels)` when absent */
  readonly receivers?: readonly string[];
}

/** A valid alert from POST /api/v2/alerts, times filled in as Alertmanager does. */
export interface PostedAlert {
  /** empty values removed, at least one label */
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, string>>;
  /** epoch ms: as posted, else endsAt when posted, else now */
  readonly startsAt: number;
  /** epoch ms as posted; absent when not posted (the pipeline applies its resolve timeout) */
  readonly endsAt?: number;
  readonly generatorURL?: string;
}
