// Alertmanager forwarding settings: the receiver's alertmanager_url, the base URL of an Alertmanager
// (http://am:9093, or with its --web.route-prefix); alerts go to <url>/api/v2/alerts. A URL that
// already ends in /api/v2/alerts is used as it is.
import { isHttpUrl } from '../format.ts';
import { ok, problem, type ConfigFields, type KeysOf, type SettingsResult } from '../channel.ts';

/** added: an Alertmanager this receiver forwards alerts to (POST <url>/api/v2/alerts) */
export const receiverKeys = (f: ConfigFields) => ({ alertmanager_url: f.httpUrl.optional() });

export interface AlertmanagerSettings {
  /** the full alerts endpoint */
  readonly alertsUrl: string;
}

export function alertsEndpoint(base: string): string {
  const u = new URL(base);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path.endsWith('/api/v2/alerts') ? path : `${path}/api/v2/alerts`;
  return u.toString();
}

export function alertmanagerSettings(receiver: KeysOf<typeof receiverKeys> | undefined): SettingsResult<AlertmanagerSettings> {
  const url = receiver?.alertmanagerUrl;
  if (!url) return problem('alertmanager needs the receiver\'s alertmanager_url');
  if (!isHttpUrl(url)) return problem('alertmanager_url is not an http(s) URL');
  return ok({ alertsUrl: alertsEndpoint(url) });
}
