import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileTemplate, humanizeDuration, TemplateError } from './template.ts';

const data = { value: 86.5, labels: { datname: 'lake', instance: 'primary' }, externalLabels: { environment: 'production' } };

describe('rule templates', () => {
  const cases: [string, string][] = [
    ['plain text', 'plain text'],
    ['{{ $value }} connections', '86.5 connections'],
    ['db {{ $labels.datname }} on {{$labels.instance}}', 'db lake on primary'],
    ['{{ $labels.missing }}|', '|'],
    ['env {{ $externalLabels.environment }}', 'env production'],
    ['{{ $value | printf "%.1f" }}%', '86.5%'],
    ['{{ printf "%.0f" $value }}', '87'],
    ['{{ $value | humanize }}', '86.5'],
    ['{{ humanize 1234567 }}', '1.235M'],
    ['{{ 0.25 | humanizePercentage }}', '25%'],
    ['{{ 1048576 | humanize1024 }}B', '1MiB'],
    ['{{ 90061 | humanizeDuration }}', '1d 1h 1m 1s'],
    ['{{ .Labels.datname | toUpper }}', 'LAKE'],
    ['{{- $value -}}', '86.5'],
  ];
  for (const [src, want] of cases) {
    it(`expands ${JSON.stringify(src)}`, () => assert.equal(compileTemplate(src).expand(data), want));
  }

  it('refuses unknown functions and actions when compiled, naming them', () => {
    assert.throws(() => compileTemplate('{{ $value | humanise }}'), (e: Error) => e instanceof TemplateError && /unknown template function "humanise"/.test(e.message));
    assert.throws(() => compileTemplate('{{ range $labels }}'), /unsupported/);
    assert.throws(() => compileTemplate('{{ $value'), /unclosed/);
  });

  it('humanizes durations as Prometheus does', () => {
    assert.equal(humanizeDuration(0), '0s');
    assert.equal(humanizeDuration(0.25), '250ms');
    assert.equal(humanizeDuration(60), '1m');
    assert.equal(humanizeDuration(3600 * 6 + 30), '6h 30s');
  });
});
