// Debian's chromium driven by playwright-core (nothing downloads a browser). Missing: the test is
// skipped on a developer's machine and fails when CI=true, like every other peer.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from './process.ts';

export const CHROMIUM = process.env.DPMON_CHROMIUM ?? '/usr/bin/chromium';

/** the browser, or why there is none (chromium not installed; an error instead when CI=true) */
export async function launchChromium(): Promise<{ browser: Browser } | { skip: string }> {
  if (!existsSync(CHROMIUM)) {
    const reason = `chromium is not installed at ${CHROMIUM} (Debian package; .ci/run installs it)`;
    if (process.env.CI === 'true') throw new Error(`${reason}: required in CI`);
    return { skip: reason };
  }
  return { browser: await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] }) };
}

/** where a test's screenshots go (gitignored): $DPMON_SHOTS, else test-output/<name>/ */
export function shotsDir(name: string): string {
  const dir = process.env.DPMON_SHOTS ?? join(repoRoot, 'test-output', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
