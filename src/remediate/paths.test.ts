import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PathSafetyError, isUnder, listFiles, recheckCandidate, resolveRoot } from './paths.ts';

let base: string;
let allowed: string;
let outside: string;

before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'dpmon-paths-')));
  allowed = join(base, 'allowed');
  outside = join(base, 'outside');
  mkdirSync(join(allowed, 'temp', 'sub'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'keep me');
  mkdirSync(join(outside, 'dir'));
  writeFileSync(join(outside, 'dir', 'inner.txt'), 'keep me too');
});
after(() => rmSync(base, { recursive: true, force: true }));

describe('isUnder', () => {
  it('tells a path inside a root from a sibling sharing its prefix', () => {
    assert.equal(isUnder('/a/temp/x', '/a/temp'), true);
    assert.equal(isUnder('/a/temp', '/a/temp'), true);
    assert.equal(isUnder('/a/temporary/x', '/a/temp'), false);
  });
});

describe('resolveRoot', () => {
  it('accepts a directory under an allowed root and returns its real path', async () => {
    assert.equal(await resolveRoot(join(allowed, 'temp'), { allowedRoots: [allowed] }), join(allowed, 'temp'));
  });

  it('refuses /', async () => {
    await assert.rejects(resolveRoot('/', { allowedRoots: ['/'] }), (e: Error) => e instanceof PathSafetyError && /system directory/.test(e.message));
  });

  it('refuses a system directory even when it is listed as allowed', async () => {
    await assert.rejects(resolveRoot('/etc', { allowedRoots: ['/etc'] }), /system directory/);
  });

  it('allows nothing when / is the allowed root', async () => {
    await assert.rejects(resolveRoot(join(allowed, 'temp'), { allowedRoots: ['/'] }), /outside the allowed roots/);
  });

  it('refuses a root outside the allowed roots', async () => {
    await assert.rejects(resolveRoot(outside, { allowedRoots: [allowed] }), /outside the allowed roots/);
  });

  it('refuses a root that climbs out with ..', async () => {
    await assert.rejects(resolveRoot(join(allowed, 'temp', '..', '..', 'outside'), { allowedRoots: [allowed] }), /resolves to .*outside, outside the allowed roots/);
  });

  it('refuses a root that is a symlink leading out of the allowed roots', async () => {
    const link = join(allowed, 'link-out');
    symlinkSync(outside, link);
    try {
      await assert.rejects(resolveRoot(link, { allowedRoots: [allowed] }), /outside the allowed roots/);
    } finally {
      unlinkSync(link);
    }
  });

  it('refuses the protected data directory, a directory inside it and one holding it', async () => {
    const data = join(allowed, 'pgdata');
    mkdirSync(join(data, 'base'), { recursive: true });
    try {
      for (const root of [data, join(data, 'base'), allowed]) {
        await assert.rejects(resolveRoot(root, { allowedRoots: [base], protectedPaths: [data] }), /protected path/);
      }
    } finally {
      rmSync(data, { recursive: true });
    }
  });

  it("allows PostgreSQL's log directory inside its data directory only to the action that may (compress_logs), and nothing else there", async () => {
    const data = join(allowed, 'pgdata2');
    mkdirSync(join(data, 'log', 'old'), { recursive: true });
    mkdirSync(join(data, 'base'), { recursive: true });
    const prot = { path: data, what: "PostgreSQL's data_directory of target pg", logDirectory: join(data, 'log') };
    try {
      const opts = { allowedRoots: [base], protectedPaths: [prot], allowLogDirectory: true };
      assert.equal(await resolveRoot(join(data, 'log'), opts), join(data, 'log'));
      assert.equal(await resolveRoot(join(data, 'log', 'old'), opts), join(data, 'log', 'old'));
      await assert.rejects(resolveRoot(join(data, 'base'), opts), /lies inside the protected path .*pgdata2 \(PostgreSQL's data_directory of target pg\); only its log directory .*pgdata2\/log may be a log path/);
      await assert.rejects(resolveRoot(data, opts), /is the protected path/);
      await assert.rejects(resolveRoot(join(data, 'log'), { ...opts, allowLogDirectory: false }), /lies inside the protected path/);
      // a log_directory of `.` is the data directory itself: it exempts nothing
      await assert.rejects(resolveRoot(join(data, 'base'), { ...opts, protectedPaths: [{ ...prot, logDirectory: join(data, '.') }] }), /lies inside the protected path/);
    } finally {
      rmSync(data, { recursive: true });
    }
  });

  it('refuses a path that does not exist, with its name', async () => {
    await assert.rejects(resolveRoot(join(allowed, 'nope'), { allowedRoots: [allowed] }), /nope cannot be resolved: ENOENT/);
  });

  it('refuses when no allowed roots are configured', async () => {
    await assert.rejects(resolveRoot(join(allowed, 'temp'), { allowedRoots: [] }), /no allowed roots are configured/);
  });
});

describe('listFiles', () => {
  it('lists regular files, skipping symlinks, not descending symlinked directories, skipping FIFOs', async () => {
    const root = mkdtempSync(join(allowed, 'list-'));
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'a.tmp'), 'a');
    writeFileSync(join(root, 'sub', 'b.tmp'), 'b');
    symlinkSync(join(outside, 'secret.txt'), join(root, 'to-secret'));
    symlinkSync(join(outside, 'dir'), join(root, 'to-dir'));
    execFileSync('mkfifo', [join(root, 'fifo')]);
    const files = (await listFiles(root)).map((f) => f.path).sort();
    assert.deepEqual(files, [join(root, 'a.tmp'), join(root, 'sub', 'b.tmp')]);
  });

  it('stays in the top directory when not recursive', async () => {
    const root = mkdtempSync(join(allowed, 'flat-'));
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'a'), 'a');
    writeFileSync(join(root, 'sub', 'b'), 'b');
    assert.deepEqual((await listFiles(root, { recursive: false })).map((f) => f.path), [join(root, 'a')]);
  });
});

describe('recheckCandidate', () => {
  const setup = async () => {
    const root = mkdtempSync(join(allowed, 'recheck-'));
    mkdirSync(join(root, 'sub'));
    const p = join(root, 'sub', 'old.tmp');
    writeFileSync(p, 'old');
    utimesSync(p, new Date(0), new Date(0));
    const [c] = await listFiles(root);
    assert.ok(c);
    return { root, p, c };
  };

  it('passes a file that did not change', async () => {
    const { root, c } = await setup();
    assert.equal(await recheckCandidate(c, [root]), null);
  });

  it('refuses a file replaced by a symlink', async () => {
    const { root, p, c } = await setup();
    unlinkSync(p);
    symlinkSync(join(outside, 'secret.txt'), p);
    assert.match((await recheckCandidate(c, [root])) ?? '', /replaced by a symlink/);
  });

  it('refuses a file replaced by another file with the same name', async () => {
    const { root, p, c } = await setup();
    writeFileSync(`${p}.new`, 'new');
    utimesSync(`${p}.new`, new Date(0), new Date(0));
    renameSync(`${p}.new`, p);
    assert.match((await recheckCandidate(c, [root])) ?? '', /replaced by another file/);
  });

  it('refuses a file written to since the plan', async () => {
    const { root, p, c } = await setup();
    writeFileSync(p, 'old and more');
    assert.match((await recheckCandidate(c, [root])) ?? '', /changed since the plan/);
  });

  it('refuses a file whose directory was swapped for a symlink out of the root', async () => {
    const { root, c } = await setup();
    const out = mkdtempSync(join(outside, 'swap-'));
    writeFileSync(join(out, 'old.tmp'), 'not yours');
    renameSync(join(root, 'sub'), join(root, 'sub.moved'));
    symlinkSync(out, join(root, 'sub'));
    assert.match((await recheckCandidate(c, [root])) ?? '', /outside the allowed roots/);
  });

  it('refuses a path with .. in it', async () => {
    const { root, c } = await setup();
    assert.match((await recheckCandidate({ ...c, path: join(root, 'sub') + '/../../outside/secret.txt' }, [root])) ?? '', /not an absolute, normalised path/);
  });

  it('refuses a file that is gone', async () => {
    const { root, p, c } = await setup();
    unlinkSync(p);
    assert.match((await recheckCandidate(c, [root])) ?? '', /is gone \(ENOENT\)/);
  });
});
