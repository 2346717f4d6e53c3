// Which channels a receiver name stands for. The spec names receivers (`ops-team`, `sys-admin`,
// `storage-team`) without defining them and maps severities to channels (high → PagerDuty,
// medium → Slack, low → dashboard); dpmon's `receivers` section defines them. A name resolves, in order:
//   1. `receivers.<name>`: its `channels`, or when it lists none, the channels its addresses imply;
//   2. a channel type (`pagerduty`, `slack`, `email`, `webhook`, `dashboard`): that one channel, so the
//      default route's severity receivers work without a `receivers` section;
//   3. anything else: the spec's severity mapping, chosen per notification by its severity
//      (routeIssues warns, or errs when a `receivers` section exists: docs/routing.md).
import type { Config, ReceiverConfig } from '../config/schema.ts';
import { camelCase } from '../lib/camel-case.ts';
import type { Labels } from '../model/labels.ts';
import type { ChannelType, Severity } from '../model/notification.ts';
import type { Channel } from '../notify/integrations/channel.ts';
import { CHANNELS, isChannelType } from '../notify/integrations/index.ts';

export type { ChannelType, Severity };

export const SEVERITIES: readonly Severity[] = Object.freeze(['high', 'medium', 'low'] as const);

/** The spec's channel mapping (Alerting Framework): high → PagerDuty, medium → Slack, low → dashboard (and log). */
export const SEVERITY_CHANNELS: Readonly<Record<Severity, ChannelType>> = Object.freeze({
  high: 'pagerduty',
  medium: 'slack',
  low: 'dashboard',
});

/** The severity an alert without a valid `severity` label is treated as (as prometheus_config rules default to). */
export const DEFAULT_SEVERITY: Severity = 'medium';

/** `high → pagerduty, medium → slack, low → dashboard`, for messages. */
export const SEVERITY_MAPPING_TEXT = SEVERITIES.map((s) => `${s} → ${SEVERITY_CHANNELS[s]}`).join(', ');

export function isSeverity(v: string | undefined): v is Severity {
  return v === 'high' || v === 'medium' || v === 'low';
}

/** The alert's (or group's) severity label, or DEFAULT_SEVERITY when absent or not high/medium/low. */
export function severityOf(labels: Labels): Severity {
  const s = labels.severity;
  return isSeverity(s) ? s : DEFAULT_SEVERITY;
}

/** The receiver of a route that names none: the severity's channel (`pagerduty`, `slack`, `dashboard`). */
export function severityReceiver(severity: Severity): string {
  return SEVERITY_CHANNELS[severity];
}

export type ReceiverSource =
  /** defined under `receivers` */
  | 'receivers'
  /** not defined, but the name is a channel type */
  | 'channel'
  /** not defined: the spec's severity mapping */
  | 'severity';

export interface ResolvedReceiver {
  readonly name: string;
  readonly source: ReceiverSource;
  /** the channels a notification of each severity goes to (the same list for every severity unless source is `severity`) */
  readonly channels: Readonly<Record<Severity, readonly ChannelType[]>>;
}

const same = (list: readonly ChannelType[]): Record<Severity, readonly ChannelType[]> => ({ high: list, medium: list, low: list });

const BY_SEVERITY: Readonly<Record<Severity, readonly ChannelType[]>> = Object.freeze({
  high: Object.freeze([SEVERITY_CHANNELS.high]),
  medium: Object.freeze([SEVERITY_CHANNELS.medium]),
  low: Object.freeze([SEVERITY_CHANNELS.low]),
});

/** The channels a defined receiver's addresses imply (each channel's `impliedBy` key), for one that lists no `channels`. */
export function impliedChannels(r: ReceiverConfig): ChannelType[] {
  const keys = r as Readonly<Record<string, unknown>>;
  const given = (v: unknown) => v !== undefined && !(Array.isArray(v) && v.length === 0);
  const channels: readonly Channel[] = CHANNELS;
  return channels.filter((c) => c.impliedBy !== undefined && given(keys[camelCase(c.impliedBy)])).map((c) => c.type);
}

/** What a receiver name stands for (see the header for the order). Never throws: routeIssues reports problems. */
export function resolveReceiver(name: string, config: Pick<Config, 'receivers'>): ResolvedReceiver {
  const defined = Object.hasOwn(config.receivers, name) ? config.receivers[name] : undefined;
  if (defined) {
    const list = defined.channels && defined.channels.length > 0 ? [...defined.channels] : impliedChannels(defined);
    if (list.length > 0) return { name, source: 'receivers', channels: same(Object.freeze(list)) };
    // defined with neither channels nor addresses: nothing to send to but the severity channels
    return { name, source: 'severity', channels: BY_SEVERITY };
  }
  if (isChannelType(name)) return { name, source: 'channel', channels: same(Object.freeze([name])) };
  return { name, source: 'severity', channels: BY_SEVERITY };
}

/** The channels one notification of `severity` for receiver `name` goes to. */
export function receiverChannels(name: string, severity: Severity, config: Pick<Config, 'receivers'>): readonly ChannelType[] {
  return resolveReceiver(name, config).channels[severity];
}
