// Time is injected in remediation and notification delivery: their code reads the time and waits on
// the `Clock` it is given (src/lib/clock.ts), so tests step a manual clock instead of sleeping. This
// scans src/remediate/ and src/notify/ (tests excluded) for the wall clock and bare timers, and fails on
// any use outside the allow-list below, each entry with its reason.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const SCANNED = ['src/remediate', 'src/notify'];

/** what reads the wall clock or schedules on it, bypassing the injected Clock */
const FORBIDDEN: readonly { readonly name: string; readonly re: RegExp }[] = [
  { name: 'Date.now', re: /\bDate\.now\b/ },
  { name: 'new Date()', re: /\bnew Date\(\s*\)/ },
  { name: 'setTimeout', re: /\bsetTimeout\s*\(/ },
  { name: 'setInterval', re: /\bsetInterval\s*\(/ },
  { name: 'AbortSignal.timeout', re: /\bAbortSignal\.timeout\s*\(/ },
  { name: 'performance.now', re: /\bperformance\.now\b/ },
];

/** file → the forbidden names it may use, and why */
const ALLOWED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'src/notify/integrations/testing.ts': {
    'Date.now': "a test kit (the integrations' contract suite): it measures how long a real receiver's real timeout took",
    setTimeout: 'a test kit: aborts a real request from outside after a moment, as a caller would',
  },
  'src/notify/integrations/alertmanager/notifier.ts': {
    'Date.now': 'the default of `deps.now` when no clock is injected; the app passes its clock',
  },
  'src/notify/integrations/dashboard/notifier.ts': {
    'Date.now': 'the default of `deps.now` when no clock is injected; the app passes its clock',
  },
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(rel);
  }
  return out;
}

/** the code without its comments (block comments, whole-line and trailing `//` comments), line numbers kept */
function code(text: string): string[] {
  const noBlocks = text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
  return noBlocks.split('\n').map((l) => l.replace(/(^|\s)\/\/.*$/, ''));
}

function uses(file: string): { name: string; line: number }[] {
  const found: { name: string; line: number }[] = [];
  code(readFileSync(join(ROOT, file), 'utf8')).forEach((l, i) => {
    for (const f of FORBIDDEN) if (f.re.test(l)) found.push({ name: f.name, line: i + 1 });
  });
  return found;
}

describe('time is injected in remediation and notification delivery', () => {
  const files = SCANNED.flatMap(sources);

  it('scans the remediation and notification sources', () => {
    assert.ok(files.includes('src/notify/delivery.ts') && files.includes('src/remediate/actions/kill-query.ts'), files.join(', '));
  });

  it('reads no wall clock and starts no bare timer outside the allow-list', () => {
    const offending = files.flatMap((f) =>
      uses(f)
        .filter((u) => ALLOWED[f]?.[u.name] === undefined)
        .map((u) => `${relative(ROOT, join(ROOT, f))}:${u.line}: ${u.name} (take the Clock: clock.now(), clock.sleep, clockTimeout, pause)`),
    );
    assert.deepEqual(offending, []);
  });

  it('allows nothing a file no longer uses', () => {
    // an entry for a file that moved away is skipped: the scan no longer covers it
    const stale = Object.entries(ALLOWED)
      .filter(([f]) => existsSync(join(ROOT, f)))
      .flatMap(([f, names]) => Object.keys(names).filter((n) => !uses(f).some((u) => u.name === n)).map((n) => `${f}: ${n}`));
    assert.deepEqual(stale, []);
  });
});
