// Which keys hold secrets, and `${VAR}` substitution from the environment.
// Secrets are plain strings in the typed config; `printConfig` shows them as `<secret>`, or `<unset>`
// when their `${VAR}` was undefined. An undefined variable in an optional secret (the spec's own
// `service_key: ${PAGERDUTY_KEY}`) is a warning, not an error: the secret is unset and the capability
// that needs it (here the pagerduty notification channel) refuses to send. Anywhere else it is an error.
// The channels name their own secret keys (src/notify/integrations/<type>/channel.ts).
import { CHANNELS } from '../notify/integrations/index.ts';
import type { Channel } from '../notify/integrations/channel.ts';
import type { ConfigIssue } from './errors.ts';
import { issueAt, type MapNode, type Node, type Segment } from './tree.ts';

type Pattern = readonly string[];

const channelSecrets = (c: Channel): Pattern[] => [
  ...(c.secrets?.section ?? []).map((key) => ['notification_channels', c.type, key]),
  ...(c.secrets?.receiver ?? []).map((key) => ['receivers', '*', key]),
];

/** Secret keys; `*` matches any map key or list index. */
export const SECRET_PATHS: readonly Pattern[] = [
  ...CHANNELS.flatMap(channelSecrets),
  ['targets', '*', 'dsn'],
  ['server', 'auth_token'],
  ['remote_write', '*', 'basic_auth', 'password'],
  ['remote_write', '*', 'headers', '*'],
  ['remediation', 'pgbouncer_admin_dsn'],
  ['remediation', 'hooks', '*', 'url'],
  ['remediation', 'hooks', '*', 'headers', '*'],
  ['remediation', 'hooks', '*', 'env', '*'],
];

/** Secrets without which their section is meaningless: an undefined `${VAR}` in them stays an error. */
const REQUIRED_SECRETS: readonly Pattern[] = [
  ['targets', '*', 'dsn'],
  ['remote_write', '*', 'basic_auth', 'password'],
];

function matches(patterns: readonly Pattern[], path: readonly Segment[]): boolean {
  return patterns.some((p) => p.length === path.length && p.every((s, i) => s === '*' || s === String(path[i])));
}

export function isSecretPath(path: readonly Segment[]): boolean {
  return matches(SECRET_PATHS, path);
}

export interface Substitution {
  value: string;
  /** variables referenced without a default and not set */
  undefinedVars: string[];
  /** a description of a malformed reference, if any */
  malformed?: string;
}

const REF = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const VAR = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}` and `${VAR:-default}` (the default applies when VAR is unset or empty, as in the shell).
 * `$${` writes a literal `${`.
 */
export function substitute(text: string, env: NodeJS.ProcessEnv): Substitution {
  const undefinedVars: string[] = [];
  let malformed: string | undefined;
  const value = text.replace(REF, (whole, inner: string | undefined) => {
    if (whole === '$${') return '${';
    if (inner === undefined) {
      malformed ??= 'unterminated "${" (write "$${" for a literal "${")';
      return whole;
    }
    const m = VAR.exec(inner);
    if (!m) {
      malformed ??= `invalid variable reference "\${${inner}}": expected \${NAME} or \${NAME:-default}`;
      return whole;
    }
    const name = m[1] as string;
    const fallback = m[2];
    const v = env[name];
    if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
    if (v === undefined) {
      undefinedVars.push(name);
      return '';
    }
    return v;
  });
  return malformed === undefined ? { value, undefinedVars } : { value, undefinedVars, malformed };
}

/**
 * Substitutes every string scalar of the tree in place. Optional secrets whose variable is undefined are
 * removed from the tree and their paths returned; errors and warnings are appended.
 */
export function substituteTree(
  root: MapNode,
  env: NodeJS.ProcessEnv,
  errors: ConfigIssue[],
  warnings: ConfigIssue[],
): Segment[][] {
  const unset: Segment[][] = [];
  const visit = (node: Node, path: Segment[], remove: () => void): void => {
    if (node.kind === 'map') {
      for (const [k, e] of [...node.entries]) visit(e.value, [...path, k], () => node.entries.delete(k));
      return;
    }
    if (node.kind === 'seq') {
      node.items.forEach((item, i) => visit(item, [...path, i], () => undefined));
      return;
    }
    if (typeof node.value !== 'string' || !node.value.includes('${')) return;
    const r = substitute(node.value, env);
    if (r.malformed) {
      errors.push(issueAt(node.pos, path, 'CONFIG_ENV', r.malformed));
      return;
    }
    if (r.undefinedVars.length > 0) {
      if (isSecretPath(path) && !matches(REQUIRED_SECRETS, path)) {
        remove();
        unset.push(path);
        warnings.push(
          issueAt(
            node.pos,
            path,
            'CONFIG_SECRET_UNSET',
            `environment variable ${r.undefinedVars.join(', ')} is not set: this secret is unset and what uses it will refuse to work`,
          ),
        );
        return;
      }
      for (const name of r.undefinedVars) errors.push(issueAt(node.pos, path, 'CONFIG_ENV', `undefined environment variable ${name}`));
      return;
    }
    node.value = r.value;
  };
  visit(root, [], () => undefined);
  return unset;
}
