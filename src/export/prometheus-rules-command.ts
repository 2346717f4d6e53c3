// `dpmon export prometheus-rules [--out FILE] [--tests FILE]`: the rule file, and optionally its promtool
// unit tests (which name the rule file by its path relative to the tests file).
import { writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { ExportUsageError, type ExportKind } from './kind.ts';
import { exportPrometheusRules } from './prometheus-rules.ts';
import { promtoolTests } from './prometheus-rules-tests.ts';

export const prometheusRulesExport: ExportKind = {
  usage: '[--out FILE] [--tests FILE] [--config PATH]...',
  help: `Writes every rule dpmon evaluates as a Prometheus rule file (stdout without --out). Anomaly rules, and
what else PromQL cannot hold, are listed in the file's header comment (docs/exports.md).
  --out FILE     the rule file
  --tests FILE   also a promtool unit-test file firing each threshold rule (needs --out): promtool test rules FILE
`,
  async run(config, opts, stdout) {
    const exported = exportPrometheusRules(config);
    const notes = exported.notExpressed.map((n) => `not expressed: ${n}`);
    if (!opts.out) {
      if (opts.tests) throw new ExportUsageError('--tests needs --out: the tests name the rule file');
      stdout(exported.yaml);
      return notes;
    }
    writeFileSync(opts.out, exported.yaml);
    notes.push(`wrote ${opts.out}: ${exported.alerts.length} alerting rules`);
    if (opts.tests) {
      const tests = await promtoolTests(exported, config, relative(dirname(opts.tests), opts.out) || opts.out);
      writeFileSync(opts.tests, tests.yaml);
      notes.push(`wrote ${opts.tests}: ${tests.tested.length} rules tested`, ...tests.untested.map((u) => `no test: ${u}`));
    }
    return notes;
  },
};
