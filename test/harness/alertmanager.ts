// A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 for interop tests: a random
// web port, clustering off (--cluster.listen-address= empty), storage in a temporary folder, and a
// minimal config whose only receiver sends nothing. Alerts posted to it are read back from its
// /api/v2/alerts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './process.ts';

export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  generatorURL?: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
}

export interface TestAlertmanager {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** the process's pid (the pipeline bench reads its CPU time) */
  readonly pid: number;
  /** GET /api/v2/alerts (active, silenced, inhibited and unprocessed, as amtool shows them) */
  alerts(filter?: string[]): Promise<GettableAlert[]>;
  /** stdout and stderr so far */
  output(): string;
  stop(): Promise<void>;
}

const CONFIG = `# dpmon test: no notifications, just the alert store
route:
  receiver: blackhole
  group_wait: 1h
receivers:
  - name: blackhole
`;

/** `config`: an alertmanager.yml of the caller's (default: one receiver that sends nothing) */
export async function startAlertmanager(binary: string, config: string = CONFIG): Promise<TestAlertmanager> {
  const dir = await mkdtemp(join(tmpdir(), 'dpmon-am-'));
  const configFile = join(dir, 'alertmanager.yml');
  await writeFile(configFile, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      'alertmanager to be ready',
      async () => {
        if (exited) throw new Error(`alertmanager exited: ${out}`);
        const res = await fetch(`${url}/-/ready`);
        await res.arrayBuffer();
        return res.ok ? true : undefined;
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    pid: child.pid!,
    output: () => out,
    async alerts(filter = []) {
      const q = filter.map((f) => `filter=${encodeURIComponent(f)}`).join('&');
      const res = await fetch(`${url}/api/v2/alerts${q ? `?${q}` : ''}`);
      if (!res.ok) throw new Error(`GET /api/v2/alerts answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as GettableAlert[];
    },
    stop,
  };
}
