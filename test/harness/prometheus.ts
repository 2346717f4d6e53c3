// A real Prometheus (Debian's `prometheus`) for interop tests: no scrape jobs, its TSDB in `dir`,
// listening on 127.0.0.1:port, ready when start resolves; `extraArgs` add flags such as
// --web.enable-remote-write-receiver.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './process.ts';

export interface Prometheus {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `configYaml` replaces the default config (no scrape jobs); write rule files beside it in `dir`. */
export async function startPrometheus(bin: string, dir: string, port: number, extraArgs: readonly string[] = [], configYaml?: string): Promise<Prometheus> {
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, configYaml ?? 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
  const child = spawn(
    bin,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await waitFor(
    'prometheus ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
      const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
      return r.ok ? true : undefined;
    },
    20_000,
  );
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
