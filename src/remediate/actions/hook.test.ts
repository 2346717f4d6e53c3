import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpReceiver, type HttpReceiver } from '../../../test/harness/http-receiver.ts';
import { actionContext } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { createHookAction } from './hook.ts';

const trigger: RemediationTrigger = {
  fingerprint: 'abc123',
  alertname: 'HighCpu',
  labels: { alertname: 'HighCpu', instance: 'db-1', 'team.name': 'ops' },
  value: 91.5,
  threshold: 85,
};
const ctx: ActionContext = actionContext({ target: 'main', now: Date.parse('2025-01-02T03:04:05Z') });

let dir: string;
let receiver: HttpReceiver;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dpmon-hook-'));
  receiver = await startHttpReceiver();
});
after(async () => {
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('hook action', () => {
  it('is skipped with a reason when no hook is configured', async () => {
    const plan = await createHookAction({ name: 'scale_compute' }).plan(trigger, ctx);
    assert.equal(plan?.steps.length, 0);
    assert.equal(plan?.reason, 'no hook configured for scale_compute');
    assert.deepEqual(plan?.before, { value: 91.5, threshold: 85 });
  });

  it('runs a command hook without a shell, with the trigger in DPMON_* variables', async () => {
    const out = join(dir, 'ran.txt');
    const hook = script('scale.sh', `printf '%s|%s|%s|%s|%s|%s|%s|%s\\n' "$DPMON_ACTION" "$DPMON_ALERTNAME" "$DPMON_VALUE" "$DPMON_THRESHOLD" "$DPMON_TARGET" "$DPMON_LABEL_INSTANCE" "$DPMON_LABEL_TEAM_NAME" "$1" > "${out}"\necho scaled`);
    const action = createHookAction({ name: 'scale_compute', hook: { command: [hook, 'arg with space; rm -rf /'] } });
    const plan = await action.plan(trigger, ctx);
    assert.equal(plan?.steps[0]?.command, `${hook} 'arg with space; rm -rf /'`);
    assert.equal(existsSync(out), false, 'planning runs nothing');
    const outcome = await action.execute(plan!, ctx);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(readFileSync(out, 'utf8'), 'scale_compute|HighCpu|91.5|85|main|db-1|ops|arg with space; rm -rf /\n');
    assert.equal(outcome.after.exit_code, 0);
    assert.equal((outcome.done[0] as unknown as { output: string }).output, 'stdout: scaled');
  });

  it('does not pass dpmon\'s own environment to the hook', async () => {
    process.env.DPMON_TEST_SECRET = 'hunter2';
    try {
      const out = join(dir, 'env.txt');
      const hook = script('env.sh', `env > "${out}"`);
      const action = createHookAction({ name: 'gc_trigger', hook: { command: [hook], env: { APP_URL: 'http://app' } } });
      await action.execute((await action.plan(trigger, ctx))!, ctx);
      const env = readFileSync(out, 'utf8');
      assert.doesNotMatch(env, /hunter2/);
      assert.match(env, /^APP_URL=http:\/\/app$/m);
      assert.match(env, /^PATH=/m);
    } finally {
      delete process.env.DPMON_TEST_SECRET;
    }
  });

  it('runs a command hook in its configured working directory', async () => {
    const work = mkdtempSync(join(dir, 'cwd-'));
    const hook = script('where.sh', 'pwd > where.txt');
    const action = createHookAction({ name: 'auto_restart', hook: { command: [hook], cwd: work } });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(readFileSync(join(work, 'where.txt'), 'utf8').trim(), work);
  });

  it('records a failed outcome when the working directory does not exist', async () => {
    const action = createHookAction({ name: 'auto_restart', hook: { command: ['/bin/true'], cwd: join(dir, 'missing') } });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /ENOENT|does not exist|could not start/i);
  });

  it('records a failed outcome with the output when the command exits 1', async () => {
    const hook = script('fail.sh', 'echo "cannot reach the cloud API" >&2\nexit 1');
    const action = createHookAction({ name: 'auto_scale', hook: { command: [hook] } });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.after.exit_code, 1);
    assert.match(outcome.failed[0]?.error ?? '', /^the hook exited with code 1\nstderr: cannot reach the cloud API$/);
  });

  it('kills a hook that hangs past its timeout, its children too, and records the failure', async () => {
    const pidFile = join(dir, 'sleep.pid');
    const hook = script('hang.sh', `sleep 30 &\necho $! > "${pidFile}"\nwait`);
    const action = createHookAction({ name: 'auto_restart', hook: { command: [hook], timeoutMs: 300 }, killGraceMs: 500 });
    const t0 = Date.now();
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.ok(Date.now() - t0 < 5000, `returned after ${Date.now() - t0} ms`);
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /did not finish within 300 ms and was killed/);
    const sleepPid = Number(readFileSync(pidFile, 'utf8'));
    // dead: gone, or a zombie waiting for init to reap it
    const dead = () => {
      try {
        return / Z /.test(readFileSync(`/proc/${sleepPid}/stat`, 'latin1'));
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 20 && !dead(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(dead(), 'the hook\'s child was killed with it');
  });

  it('records a failed outcome when the command does not exist', async () => {
    const action = createHookAction({ name: 'clear_caches', hook: { command: [join(dir, 'missing.sh')] } });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /could not be started: ENOENT/);
  });

  it('truncates a long output', async () => {
    const hook = script('chatty.sh', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done');
    const action = createHookAction({ name: 'cache_adjustment', hook: { command: [hook] }, maxOutputBytes: 100 });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    const output = (outcome.done[0] as unknown as { output: string }).output;
    assert.ok(output.length < 200, output);
    assert.match(output, /more bytes\)$/);
  });

  it('POSTs the trigger as JSON to a webhook', async () => {
    const action = createHookAction({ name: 'load_balancing', hook: { url: `${receiver.url}/hooks/lb?token=s3cret`, headers: { authorization: 'Bearer t0ken' } } });
    const plan = await action.plan(trigger, ctx);
    assert.doesNotMatch(JSON.stringify(plan), /s3cret|t0ken/, 'the URL and headers stay out of the plan');
    const outcome = await action.execute(plan!, ctx);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(outcome.after.http_status, 200);
    const req = receiver.requests.at(-1);
    assert.equal(req?.path, '/hooks/lb?token=s3cret');
    assert.equal(req?.headers.authorization, 'Bearer t0ken');
    assert.deepEqual(req?.json, {
      version: 1,
      action: 'load_balancing',
      target: 'main',
      at: '2025-01-02T03:04:05.000Z',
      trigger: { alertname: 'HighCpu', fingerprint: 'abc123', labels: trigger.labels, value: 91.5, threshold: 85 },
    });
  });

  it('records a failed outcome when the webhook answers 500 or does not answer in time', async () => {
    const action = createHookAction({ name: 'network_optimization', hook: { url: receiver.url, timeoutMs: 300 } });
    receiver.answer({ status: 500, body: 'boom' }, { hang: true });
    const failed = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(failed.ok, false);
    assert.equal(failed.after.http_status, 500);
    assert.match(failed.failed[0]?.error ?? '', /500/);
    const hung = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(hung.ok, false);
    assert.match(hung.failed[0]?.error ?? '', /did not answer within 300 ms/);
  });

  it("keeps a command hook's env values out of its recorded output, as <secret>", async () => {
    const token = 'cl0ud-t0ken-4f9a';
    // `set -x` traces every command with its expanded arguments to stderr: the token with it
    const hook = script('traced.sh', 'set -x\ncurl_like() { :; }\ncurl_like -H "Authorization: Bearer $CLOUD_TOKEN" https://cloud.example/scale\necho "scaled with $CLOUD_TOKEN"');
    const action = createHookAction({ name: 'scale_compute', hook: { command: [hook], env: { CLOUD_TOKEN: token } } });
    const plan = await action.plan(trigger, ctx);
    const outcome = await action.execute(plan!, ctx);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    const output = (outcome.done[0] as unknown as { output: string }).output;
    assert.match(output, /^stdout: scaled with <secret>\nstderr: \+ curl_like -H '?Authorization: Bearer <secret>'? https:\/\/cloud\.example\/scale$/m);
    assert.doesNotMatch(JSON.stringify({ plan, outcome }), new RegExp(token));
  });

  it("keeps a command hook's env values out of a failure's error, as <secret>", async () => {
    const hook = script('leaky-fail.sh', 'echo "401 for token $CLOUD_TOKEN" >&2\nexit 3');
    const action = createHookAction({ name: 'auto_scale', hook: { command: [hook], env: { CLOUD_TOKEN: 'cl0ud-t0ken-77', REGION: 'eu-west-1' } } });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.failed[0]?.error, 'the hook exited with code 3\nstderr: 401 for token <secret>');
  });

  it('blanks a secret cut in two where a long output is truncated', async () => {
    const token = 'abcdefghijklmnop';
    // 90 bytes of padding, then the token: the 100-byte cut falls inside it
    const hook = script('cut.sh', `printf '%s' "${'x'.repeat(90)}$CLOUD_TOKEN and more"`);
    const action = createHookAction({ name: 'cache_adjustment', hook: { command: [hook], env: { CLOUD_TOKEN: token } }, maxOutputBytes: 100 });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    const output = (outcome.done[0] as unknown as { output: string }).output;
    assert.equal(output, `stdout: ${'x'.repeat(90)}<secret>… (15 more bytes)`);
  });

  it("keeps a webhook's header token out of the outcome when the receiver echoes it in its answer", async () => {
    const action = createHookAction({ name: 'load_balancing', hook: { url: `${receiver.url}/hooks/lb?key=qu3ry-k3y`, headers: { authorization: 'Bearer w3bh00k-t0ken', 'x-api-key': 'api-k3y-value' } } });
    receiver.answer({ status: 200, body: 'accepted; token w3bh00k-t0ken key api-k3y-value, called /hooks/lb?key=qu3ry-k3y' });
    const plan = await action.plan(trigger, ctx);
    const outcome = await action.execute(plan!, ctx);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal((outcome.done[0] as unknown as { output: string }).output, 'accepted; token <secret> key <secret>, called <secret>');
    assert.doesNotMatch(JSON.stringify({ plan, outcome }), /w3bh00k-t0ken|api-k3y-value|qu3ry-k3y/);
  });

  it("keeps a webhook's bare header token and URL credentials out of a failure's error", async () => {
    const action = createHookAction({ name: 'load_balancing', hook: { url: `http://hookuser:hookpass@${receiver.url.slice('http://'.length)}/x`, headers: { authorization: 'Token w3bh00k-t0ken' } } });
    const basic = Buffer.from('hookuser:hookpass').toString('base64');
    receiver.answer({ status: 403, body: `token w3bh00k-t0ken refused; also got Basic ${basic}` });
    const outcome = await action.execute((await action.plan(trigger, ctx))!, ctx);
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /403: token <secret> refused; also got <secret>/);
    assert.doesNotMatch(JSON.stringify(outcome), new RegExp(`w3bh00k-t0ken|${basic}|hookpass`));
  });

  it('refuses an empty command or a URL that is not http(s) when it is built', () => {
    assert.throws(() => createHookAction({ name: 'x', hook: { command: [] } }), /the command is empty/);
    assert.throws(() => createHookAction({ name: 'x', hook: { url: 'file:///etc/passwd' } }), /not http\(s\)/);
  });
});
