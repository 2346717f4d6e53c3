// `dpmon export alertmanager [--out FILE] [--secrets-dir DIR]`: the Alertmanager configuration.
import { writeFileSync } from 'node:fs';
import { DEFAULT_SECRETS_DIR, exportAlertmanager } from './alertmanager.ts';
import type { ExportKind } from './kind.ts';

export const alertmanagerExport: ExportKind = {
  usage: '[--out FILE] [--secrets-dir DIR] [--config PATH]...',
  help: `Writes dpmon's routes, receivers, inhibitions and time intervals as an Alertmanager configuration
(stdout without --out). Secrets are *_file references, never values; the files to create are listed in the
header comment with what each must hold (docs/exports.md).
  --out FILE          the configuration file: amtool check-config FILE
  --secrets-dir DIR   where the *_file references point (default ${DEFAULT_SECRETS_DIR})
`,
  async run(config, opts, stdout) {
    const exported = exportAlertmanager(config, { secretsDir: opts.secretsDir });
    const notes = exported.secretFiles.map((s) => `secret file ${s.path}: ${s.holds}`);
    if (!opts.out) {
      stdout(exported.yaml);
      return notes;
    }
    writeFileSync(opts.out, exported.yaml);
    return [`wrote ${opts.out}`, ...notes];
  },
};
