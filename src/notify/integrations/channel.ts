// What one channel folder (src/notify/integrations/<type>/) contributes, as the `channel` object its
// channel.ts exports: the keys it adds to a receiver and its section of `notification_channels` (as
// config schema fields), which of them are secrets, which receiver key implies it, how it reads its
// settings and how it builds its notifier. integrations/index.ts lists the channels; the config schema,
// the secret paths, the receivers' implied channels and the notifier registry all read that list, so a
// new channel is a new folder and one line there.
import type { z } from 'zod';
import type { Camelize } from '../../lib/camel-case.ts';
import type { DeepReadonly } from '../../lib/deep-readonly.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Notifier } from '../../model/notification.ts';
import type { DashboardFeed } from './dashboard/feed.ts';

export interface NotifierDeps {
  /** the notify component's logger; each notifier takes a child with its channel */
  readonly logger: Logger;
  /** per-request timeout of the HTTP and SMTP integrations; default 10 s */
  readonly timeoutMs?: number;
  /** this host's name (email's default sender, PagerDuty's default source); default os.hostname() */
  readonly hostname?: string;
  /** the bounded list the dashboard channel records into; one shared per process, else one per notifier */
  readonly dashboard?: DashboardFeed;
  /** epoch ms; default Date.now */
  readonly now?: () => number;
  /** the clock those timeouts run on; default the system clock */
  readonly clock?: Clock;
}

/**
 * The config schema's value types a channel builds its keys from. The schema hands them over (the
 * config is a layer above the channels), so a key reads and fails exactly as every other key does.
 */
export interface ConfigFields {
  /** any text */
  readonly str: z.ZodString;
  /** text of at least one character */
  readonly name: z.ZodString;
  /** text printed as `<secret>`: name the key under the channel's `secrets` too */
  readonly secret: z.ZodString;
  /** name@domain */
  readonly email: z.ZodString;
  /** an http:// or https:// URL */
  readonly httpUrl: z.ZodString;
  /** 1–65535; numeric text (from `${VAR}`) accepted */
  readonly port: z.ZodType<number>;
}

/** YAML keys (snake_case) and their fields: a channel's receiver keys, or its `notification_channels` section. */
export type Keys = (f: ConfigFields) => z.ZodRawShape;

/** What the frozen config holds for such keys: camelCase, read-only. */
export type KeysOf<K extends Keys> = DeepReadonly<Camelize<z.output<z.ZodObject<ReturnType<K>, z.core.$strip>>>>;

export type SettingsResult<S> = { readonly ok: true; readonly settings: S } | { readonly ok: false; readonly problem: string };

export interface Channel<S = unknown, R = unknown, G = unknown> {
  /** the channel's name in `channels:` lists, routes and the outbox: its folder's name */
  readonly type: string;
  /** the keys it adds to each entry of `receivers` (prefixed with its type, by custom) */
  readonly receiverKeys?: Keys;
  /** its section `notification_channels.<type>`, when it has one */
  readonly sectionKeys?: Keys;
  /** which of those keys hold secrets (printed as `<secret>`; an unset `${VAR}` in one is a warning) */
  readonly secrets?: { readonly receiver?: readonly string[]; readonly section?: readonly string[] };
  /** a receiver key whose value (a non-empty one, for a list) adds this channel to a receiver that lists no `channels` */
  readonly impliedBy?: string;
  /** reads the settings from the receiver's keys and `notification_channels`; a problem names the missing or bad key (never a secret's value) */
  settings(receiver: R | undefined, channels: G | undefined, deps: NotifierDeps): SettingsResult<S>;
  create(settings: S, deps: NotifierDeps): Notifier;
}

/**
 * A channel, its literal types kept (its type's name, its keys) for the config schema to compose. Each
 * channel types its own settings and config view (`any` here); the registry erases them.
 */
export function defineChannel<const C extends Channel<any, any, any>>(channel: C): C {
  return channel;
}

export function ok<S>(settings: S): SettingsResult<S> {
  return { ok: true, settings };
}

export function problem<S>(text: string): SettingsResult<S> {
  return { ok: false, problem: text };
}
