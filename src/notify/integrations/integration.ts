// What one integration folder provides to the registry: how it reads its settings from a receiver's
// config and the global `notification_channels`, and how it builds its notifier from them.
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { NotificationChannelsConfig, ReceiverConfig } from '../../config/schema.ts';
import type { ChannelType, Notifier } from '../types.ts';
import type { DashboardFeed } from './dashboard/feed.ts';

export interface NotifierDeps {
  /** the notify component's logger; each notifier takes a child with its channel */
  readonly logger: Logger;
  /** per-request timeout of the HTTP and SMTP integrations; default 10 s */
  readonly timeoutMs?: number;
  /** the clock those timeouts run on; default the system clock */
  readonly clock?: Clock;
  /** this host's name (email's default sender, PagerDuty's default source); default os.hostname() */
  readonly hostname?: string;
  /** the bounded list the dashboard channel records into; one shared per process, else one per notifier */
  readonly dashboard?: DashboardFeed;
  /** epoch ms; default Date.now */
  readonly now?: () => number;
}

/** A receiver's view of its config: undefined for a receiver a route names but `receivers` does not define. */
export type ReceiverSettings = ReceiverConfig | undefined;
export type ChannelSettings = NotificationChannelsConfig | undefined;

export type SettingsResult<S> = { readonly ok: true; readonly settings: S } | { readonly ok: false; readonly problem: string };

export interface Integration<S, K extends ChannelType = ChannelType> {
  readonly type: K;
  /** reads the settings; a problem names the missing or bad key (never a secret's value) */
  settings(receiver: ReceiverSettings, channels: ChannelSettings, deps: NotifierDeps): SettingsResult<S>;
  create(settings: S, deps: NotifierDeps): Notifier;
}

export function ok<S>(settings: S): SettingsResult<S> {
  return { ok: true, settings };
}

export function problem<S>(text: string): SettingsResult<S> {
  return { ok: false, problem: text };
}
