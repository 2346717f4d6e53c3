// node_exporter_build_info: node-mixin's dashboards list hosts (their `instance` variable) from this
// series, so dpmon serves it too, with its own version, to fill those dashboards.
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';
import { DPMON_VERSION } from '../../lib/version.ts';

export const nodeExporterBuildInfo = gauge(
  'node_exporter_build_info',
  'A metric with a constant 1 value labeled by version, revision, branch and goversion; served by dpmon for node-mixin dashboards.',
);

export function createBuildInfoCollector(opts: { intervalMs: number }): Collector {
  const labels = { version: `dpmon-${DPMON_VERSION}`, revision: '', branch: '', goversion: `node${process.versions.node}` };
  return {
    name: 'build_info',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      emit(nodeExporterBuildInfo, labels, 1);
    },
  };
}
