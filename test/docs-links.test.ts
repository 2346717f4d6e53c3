// The docs against the repository: every relative link in README.md and docs/*.md points at a file that
// exists (and an `#anchor` at a heading of it), every file the architecture's test layout names exists,
// and every command of the README's command table answers `--help` with exit 0.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The text outside fenced code blocks and inline code, where a `[x](y)` is a link. */
function prose(md: string): string {
  return md.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '``');
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of md.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function linksOf(md: string): string[] {
  return [...prose(md).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

describe('docs: relative links', () => {
  it('finds links to check (the parser works)', () => {
    assert.ok(linksOf(read('README.md')).includes('docs/remediation.md'));
    assert.equal(slug('`pg_stat_checkpointer` (interval `default`, PostgreSQL 17+)'), 'pg_stat_checkpointer-interval-default-postgresql-17');
  });

  for (const file of DOCS) {
    it(`${file}: every relative link points at a file, and every #anchor at a heading, that exist`, () => {
      const broken: string[] = [];
      for (const link of linksOf(read(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
        const [path, anchor] = link.split('#', 2) as [string, string | undefined];
        const target = path === '' ? file : relative(ROOT, join(ROOT, dirname(file), decodeURIComponent(path)));
        if (!existsSync(join(ROOT, target))) {
          broken.push(`${link}: no file ${target}`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(read(target)).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${target}`);
      }
      assert.deepEqual(broken, []);
    });
  }
});

describe('docs/architecture.md: the test layout', () => {
  it('names only files and folders that exist', () => {
    const md = read('docs/architecture.md');
    const section = md.slice(md.indexOf('\n## Tests\n'));
    assert.ok(section.length > 20, 'no "## Tests" section');
    const paths = [...section.matchAll(/`((?:src|test|scripts)\/[A-Za-z0-9_./-]+)`/g)].map((m) => m[1]!);
    assert.ok(paths.length > 10);
    assert.deepEqual(paths.filter((p) => !existsSync(join(ROOT, p))), []);
    // the test files it lists by name under test/
    const named = [...section.matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1]!).filter((n) => existsSync(join(ROOT, 'test', `${n}.test.ts`)));
    const missing = readdirSync(join(ROOT, 'test'))
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => f.slice(0, -'.test.ts'.length))
      .filter((n) => !named.includes(n));
    assert.deepEqual(missing, [], 'test/*.test.ts files the Tests section does not name');
  });
});

describe("README: the command table", () => {
  const rows = read('README.md')
    .split('\n')
    .filter((l) => l.startsWith('| `dpmon '));
  /** `dpmon remediation list` / `dpmon remediation approve ID [--by NAME]` → ['remediation', 'list'], ['remediation', 'approve'] */
  const commands = rows.flatMap((row) =>
    [...row.split('|')[1]!.matchAll(/`dpmon ([^`]+)`/g)].map((m) => m[1]!.split(' ').filter((w, i, all) => /^[a-z][a-z-]*$/.test(w) && all.slice(0, i).every((x) => /^[a-z][a-z-]*$/.test(x)))),
  );

  it('has the commands of the CLI', () => {
    assert.ok(commands.length >= 6, JSON.stringify(commands));
  });

  for (const words of commands) {
    it(`dpmon ${words.join(' ')} --help exits 0 with its usage`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...words, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Usage: dpmon/);
    });
  }
});
