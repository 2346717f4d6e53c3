import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/index.ts';
import { createManualClock } from '../lib/clock.ts';
import { labelsKey, type Labels } from '../model/labels.ts';
import { routeTreeFromConfig } from './config.ts';
import { createDispatcher, flushReason, type DispatchAlert, type FlushReason, type OnFlush } from './dispatcher.ts';
import { buildRouteTree, type Route, type RouteSpec } from './route.ts';
import { createMemoryGroupStateStore, type GroupFlushState, type GroupStateStore } from './state.ts';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const S = 1000;
const M = 60 * S;
const H = 60 * M;

function alert(labels: Labels, opts: { status?: 'firing' | 'resolved'; startsAt?: number; endsAt?: number } = {}): DispatchAlert {
  return {
    fingerprint: labelsKey(labels),
    labels,
    annotations: { summary: String(labels.alertname) },
    status: opts.status ?? 'firing',
    startsAt: opts.startsAt ?? T0,
    ...(opts.endsAt !== undefined ? { endsAt: opts.endsAt } : {}),
  };
}
const resolvedAlert = (labels: Labels, at: number) => alert(labels, { status: 'resolved', endsAt: at });

interface Flushed {
  /** seconds since T0 */
  readonly t: number;
  readonly receiver: string;
  readonly route: string;
  readonly reason: FlushReason;
  /** `alertname/instance:status` per alert */
  readonly alerts: string[];
}

function harness(routes: Route, options: { state?: GroupStateStore; onFlush?: OnFlush<DispatchAlert>; start?: number } = {}) {
  const clock = createManualClock(options.start ?? T0);
  const flushed: Flushed[] = [];
  const dispatcher = createDispatcher({
    routes,
    clock,
    ...(options.state ? { state: options.state } : {}),
    onFlush: (groupKey, receiver, route, alerts, groupLabels, info) => {
      flushed.push({
        t: (info.at - T0) / S,
        receiver,
        route: route.name,
        reason: info.reason,
        alerts: alerts.map((a) => `${a.labels.alertname}${a.labels.instance ? `/${a.labels.instance}` : ''}:${a.status}`),
      });
      return options.onFlush?.(groupKey, receiver, route, alerts, groupLabels, info);
    },
  });
  /** advance the clock to `seconds` after T0 */
  const at = (seconds: number) => clock.advance(T0 + seconds * S - clock.now());
  return { clock, dispatcher, flushed, at };
}

const specRoutes = () => routeTreeFromConfig(loadConfig([], {}).config);
const tree = (spec: RouteSpec) => buildRouteTree(spec);

describe('dispatcher: the spec routes and their group_wait', () => {
  const table: [alertname: string, waitS: number, route: string, receiver: string][] = [
    ['cpu_usage', 30, 'cpu_alerts', 'ops-team'],
    ['memory_usage', 45, 'memory_alerts', 'sys-admin'],
    ['disk_usage', 60, 'disk_alerts', 'storage-team'],
  ];
  for (const [alertname, waitS, route, receiver] of table) {
    it(`flushes ${alertname} to ${receiver} at exactly ${waitS} s`, async () => {
      const h = harness(specRoutes());
      h.dispatcher.ingest([alert({ alertname, instance: 'host', severity: 'high' })]);
      await h.at(waitS - 0.001);
      assert.deepEqual(h.flushed, []);
      await h.at(waitS);
      assert.deepEqual(h.flushed, [{ t: waitS, receiver, route, reason: 'first', alerts: [`${alertname}/host:firing`] }]);
      await h.dispatcher.stop();
    });
  }

  it('flushes the three at 30, 45 and 60 s when they arrive together', async () => {
    const h = harness(specRoutes());
    h.dispatcher.ingest(['disk_usage', 'memory_usage', 'cpu_usage'].map((alertname) => alert({ alertname, instance: 'host', severity: 'medium' })));
    await h.at(120);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.receiver]),
      [
        [30, 'ops-team'],
        [45, 'sys-admin'],
        [60, 'storage-team'],
      ],
    );
    await h.dispatcher.stop();
  });

  const bySeverity: [severity: string | undefined, receiver: string][] = [
    ['high', 'pagerduty'],
    ['medium', 'slack'],
    ['low', 'dashboard'],
    [undefined, 'slack'],
  ];
  for (const [severity, receiver] of bySeverity) {
    it(`sends an alert no route matches, of severity ${severity ?? '(none)'}, to ${receiver} after the default 30 s`, async () => {
      const h = harness(specRoutes());
      h.dispatcher.ingest([alert({ alertname: 'connection_saturation', instance: 'pg', ...(severity ? { severity } : {}) })]);
      await h.at(29);
      assert.equal(h.flushed.length, 0);
      await h.at(30);
      assert.deepEqual(
        h.flushed.map((f) => [f.t, f.route, f.receiver]),
        [[30, 'default', receiver]],
      );
      await h.dispatcher.stop();
    });
  }
});

describe('dispatcher: grouping and timing', () => {
  const routes = () => tree({ groupBy: ['alertname', 'instance'], receiver: 'team', groupWaitMs: 30 * S, groupIntervalMs: 5 * M, repeatIntervalMs: 1 * H });

  it('gathers the alerts of one group that arrive within group_wait into one notification', async () => {
    const h = harness(routes());
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a', level: 'warning' })]);
    await h.at(20);
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a', level: 'critical' }, { startsAt: T0 + 20 * S })]);
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'b' }, { startsAt: T0 + 20 * S })]);
    await h.at(60);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.alerts]),
      [
        [30, ['cpu_usage/a:firing', 'cpu_usage/a:firing']],
        [50, ['cpu_usage/b:firing']],
      ],
    );
    await h.dispatcher.stop();
  });

  it('notifies a new alert in a notified group at the next group_interval, not after group_wait', async () => {
    const h = harness(routes());
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a', level: 'warning' })]);
    await h.at(40);
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a', level: 'critical' }, { startsAt: T0 + 40 * S })]);
    await h.at(30 + 300 - 1);
    assert.equal(h.flushed.length, 1);
    await h.at(30 + 300);
    assert.deepEqual(h.flushed[1], { t: 330, receiver: 'team', route: 'default', reason: 'new_alerts', alerts: ['cpu_usage/a:firing', 'cpu_usage/a:firing'] });
    await h.dispatcher.stop();
  });

  it('stays quiet at group_interval checks while nothing changes, and repeats at repeat_interval', async () => {
    const h = harness(routes());
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a' })]);
    await h.at(30 + 3 * 3600);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason]),
      [
        [30, 'first'],
        [30 + 3600, 'repeat'],
        [30 + 7200, 'repeat'],
        [30 + 10800, 'repeat'],
      ],
    );
    await h.dispatcher.stop();
  });

  it('repeats at the first group_interval check at or after repeat_interval', async () => {
    const h = harness(tree({ receiver: 'team', groupWaitMs: 0, groupIntervalMs: 7 * M, repeatIntervalMs: 20 * M }));
    h.dispatcher.ingest([alert({ alertname: 'x' })]);
    await h.at(3600);
    assert.deepEqual(
      h.flushed.map((f) => f.t / 60),
      [0, 21, 42],
    );
    await h.dispatcher.stop();
  });

  it('flushes at once a new group whose alert started more than group_wait ago', async () => {
    const h = harness(routes(), { start: T0 + 10 * M });
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a' }, { startsAt: T0 })]);
    await h.clock.advance(0);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason]),
      [[600, 'first']],
    );
    await h.dispatcher.stop();
  });

  it('sends an alert to every route it matches with continue, each with its own timing', async () => {
    const h = harness(
      tree({
        receiver: 'fallback',
        routes: [
          { name: 'everything-to-log', matchers: ['alertname=~".+"'], receiver: 'dashboard', groupWaitMs: 0, continue: true },
          { name: 'db', matchers: ['team="db"'], receiver: 'dba', groupWaitMs: 45 * S },
        ],
      }),
    );
    h.dispatcher.ingest([alert({ alertname: 'deadlocks', instance: 'pg', team: 'db' })]);
    await h.at(60);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.route, f.receiver]),
      [
        [0, 'everything-to-log', 'dashboard'],
        [45, 'db', 'dba'],
      ],
    );
    await h.dispatcher.stop();
  });
});

describe('dispatcher: resolved alerts', () => {
  const routes = () => tree({ groupBy: ['alertname'], receiver: 'team', groupWaitMs: 30 * S, groupIntervalMs: 5 * M, repeatIntervalMs: 4 * H });

  it('notifies a resolution at the next group_interval, then ends the group', async () => {
    const store = createMemoryGroupStateStore();
    const h = harness(routes(), { state: store });
    const labels = { alertname: 'cpu_usage', instance: 'a' };
    h.dispatcher.ingest([alert(labels)]);
    await h.at(120);
    assert.equal(store.states.size, 1);
    h.dispatcher.ingest([resolvedAlert(labels, T0 + 120 * S)]);
    await h.at(330);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason, f.alerts]),
      [
        [30, 'first', ['cpu_usage/a:firing']],
        [330, 'all_resolved', ['cpu_usage/a:resolved']],
      ],
    );
    assert.deepEqual(h.dispatcher.groups(), []);
    assert.equal(store.states.size, 0);
    await h.at(3 * 3600);
    assert.equal(h.flushed.length, 2);
    await h.dispatcher.stop();
  });

  it('tells of a resolved alert beside the still-firing ones, then drops it from the group', async () => {
    const h = harness(routes());
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a' }), alert({ alertname: 'cpu_usage', instance: 'b' })]);
    await h.at(60);
    h.dispatcher.ingest([resolvedAlert({ alertname: 'cpu_usage', instance: 'a' }, T0 + 60 * S)]);
    await h.at(330 + 300);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason, f.alerts]),
      [
        [30, 'first', ['cpu_usage/a:firing', 'cpu_usage/b:firing']],
        [330, 'new_resolved', ['cpu_usage/a:resolved', 'cpu_usage/b:firing']],
      ],
    );
    assert.deepEqual(
      h.dispatcher.groups().map((g) => g.alerts.map((a) => a.labels.instance)),
      [['b']],
    );
    await h.dispatcher.stop();
  });

  it('says nothing of an alert that fired and resolved within group_wait', async () => {
    const h = harness(routes());
    const labels = { alertname: 'cpu_usage', instance: 'a' };
    h.dispatcher.ingest([alert(labels)]);
    await h.at(10);
    h.dispatcher.ingest([resolvedAlert(labels, T0 + 10 * S)]);
    await h.at(600);
    assert.deepEqual(h.flushed, []);
    assert.deepEqual(h.dispatcher.groups(), []);
    await h.dispatcher.stop();
  });

  it('counts an alert whose endsAt has passed as resolved', async () => {
    const h = harness(routes());
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a' }, { endsAt: T0 + 3 * M })]);
    await h.at(330);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason, f.alerts]),
      [
        [30, 'first', ['cpu_usage/a:firing']],
        [330, 'all_resolved', ['cpu_usage/a:resolved']],
      ],
    );
    await h.dispatcher.stop();
  });

  it('ignores a resolution for an alert it never notified, and a repeated one', async () => {
    const h = harness(routes());
    const labels = { alertname: 'cpu_usage', instance: 'a' };
    h.dispatcher.ingest([resolvedAlert(labels, T0)]);
    assert.deepEqual(h.dispatcher.groups(), []);
    h.dispatcher.ingest([alert(labels)]);
    await h.at(60);
    h.dispatcher.ingest([resolvedAlert(labels, T0 + 60 * S)]);
    await h.at(330);
    h.dispatcher.ingest([resolvedAlert(labels, T0 + 60 * S)]); // the rules engine re-sends resolved alerts
    await h.at(1200);
    assert.deepEqual(
      h.flushed.map((f) => f.reason),
      ['first', 'all_resolved'],
    );
    await h.dispatcher.stop();
  });
});

describe('dispatcher: refused flushes', () => {
  it('keeps the resolved alerts and the last state, and tries again at the next group_interval', async () => {
    let calls = 0;
    const routes = tree({ receiver: 'team', groupBy: ['alertname'], groupWaitMs: 30 * S, groupIntervalMs: 5 * M });
    const h = harness(routes, {
      onFlush: () => {
        calls++;
        if (calls === 2) return false;
        if (calls === 3) throw new Error('outbox unavailable');
        return true;
      },
    });
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a' }), alert({ alertname: 'cpu_usage', instance: 'b' })]);
    await h.at(40);
    h.dispatcher.ingest([resolvedAlert({ alertname: 'cpu_usage', instance: 'a' }, T0 + 40 * S)]);
    await h.at(1200);
    // accepted, refused (false), refused (throw), accepted: the resolution is offered until taken
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason, f.alerts]),
      [
        [30, 'first', ['cpu_usage/a:firing', 'cpu_usage/b:firing']],
        [330, 'new_resolved', ['cpu_usage/a:resolved', 'cpu_usage/b:firing']],
        [630, 'new_resolved', ['cpu_usage/a:resolved', 'cpu_usage/b:firing']],
        [930, 'new_resolved', ['cpu_usage/a:resolved', 'cpu_usage/b:firing']],
      ],
    );
    assert.deepEqual(
      h.dispatcher.groups().map((g) => g.alerts.map((a) => a.labels.instance)),
      [['b']],
    );
    await h.dispatcher.stop();
  });

  it('never tells a resolution whose firing was refused', async () => {
    const h = harness(tree({ receiver: 'team', groupWaitMs: 30 * S, groupIntervalMs: 5 * M }), { onFlush: () => false });
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'a' })]);
    await h.at(40);
    h.dispatcher.ingest([resolvedAlert({ alertname: 'cpu_usage', instance: 'a' }, T0 + 40 * S)]);
    await h.at(1200);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason]),
      [[30, 'first']],
    );
    assert.deepEqual(h.dispatcher.groups(), []);
    await h.dispatcher.stop();
  });
});

describe('dispatcher: state across a restart', () => {
  const routes = () => tree({ groupBy: ['alertname'], receiver: 'team', groupWaitMs: 30 * S, groupIntervalMs: 5 * M, repeatIntervalMs: 4 * H });
  const labels = { alertname: 'cpu_usage', instance: 'a' };

  it('does not notify again for alerts the last notification held', async () => {
    const store = createMemoryGroupStateStore();
    const first = harness(routes(), { state: store });
    first.dispatcher.ingest([alert(labels)]);
    await first.at(60);
    await first.dispatcher.stop();
    assert.deepEqual(
      [...store.states.values()].map((s) => [s.receiver, (s.at - T0) / S, s.firing]),
      [['team', 30, [labelsKey(labels)]]],
    );

    const second = harness(routes(), { state: store, start: T0 + 2 * M });
    second.dispatcher.ingest([alert(labels)]); // the pipeline hands over what is firing
    await second.at(2 * 3600);
    assert.deepEqual(second.flushed, []);
    // carries on at the old group_interval rhythm
    assert.equal((second.dispatcher.groups()[0]?.nextFlushAt ?? 0) % (5 * M), (T0 + 30 * S) % (5 * M));
    await second.dispatcher.stop();
  });

  it('sends the resolution of an alert that resolved while it was down', async () => {
    const store = createMemoryGroupStateStore();
    const first = harness(routes(), { state: store });
    first.dispatcher.ingest([alert(labels)]);
    await first.at(60);
    await first.dispatcher.stop();

    const second = harness(routes(), { state: store, start: T0 + 10 * M });
    second.dispatcher.ingest([resolvedAlert(labels, T0 + 8 * M)]);
    await second.clock.advance(0);
    assert.deepEqual(
      second.flushed.map((f) => [f.t, f.reason, f.alerts]),
      [[600, 'all_resolved', ['cpu_usage/a:resolved']]],
    );
    assert.equal(store.states.size, 0);
    await second.dispatcher.stop();
  });

  it('ignores a saved state of another receiver (the config changed)', async () => {
    const state: GroupFlushState = { groupKey: '{}:{alertname="cpu_usage"}', receiver: 'old-team', at: T0, firing: [labelsKey(labels)], resolved: [] };
    const h = harness(routes(), { state: createMemoryGroupStateStore([state]), start: T0 + M });
    h.dispatcher.ingest([alert(labels, { startsAt: T0 + M })]);
    await h.at(90);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.receiver, f.reason]),
      [[90, 'team', 'first']],
    );
    await h.dispatcher.stop();
  });
});

describe('dispatcher: lifecycle and view', () => {
  it('shows each group with its receiver, labels, alerts and next check', async () => {
    const h = harness(specRoutes());
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'host', severity: 'high' }), alert({ alertname: 'target_down', instance: 'pg', severity: 'high' })]);
    assert.deepEqual(
      h.dispatcher.groups().map((g) => [g.groupKey, g.receiver, g.labels, g.alerts.length, (g.nextFlushAt - T0) / S, g.lastNotification]),
      [
        ['{}/cpu_alerts:{alertname="cpu_usage", instance="host"}', 'ops-team', { alertname: 'cpu_usage', instance: 'host' }, 1, 30, undefined],
        ['{}:{alertname="target_down", instance="pg", severity="high"}', 'pagerduty', { alertname: 'target_down', instance: 'pg', severity: 'high' }, 1, 30, undefined],
      ],
    );
    await h.dispatcher.stop();
  });

  it('flushes nothing after stop, and ignores alerts given to it', async () => {
    const h = harness(specRoutes());
    h.dispatcher.ingest([alert({ alertname: 'cpu_usage', instance: 'host' })]);
    await h.dispatcher.stop();
    h.dispatcher.ingest([alert({ alertname: 'memory_usage', instance: 'host' })]);
    await h.at(3600);
    assert.deepEqual(h.flushed, []);
  });

  it('waits in stop() for a flush under way', async () => {
    let release!: () => void;
    let finished = false;
    const h = harness(tree({ receiver: 'team', groupWaitMs: 0 }), {
      onFlush: () =>
        new Promise<boolean>((resolve) => {
          release = () => {
            finished = true;
            resolve(true);
          };
        }),
    });
    h.dispatcher.ingest([alert({ alertname: 'x' })]);
    await h.clock.advance(0);
    assert.equal(h.flushed.length, 1);
    const stopped = h.dispatcher.stop();
    setImmediate(() => release());
    await stopped;
    assert.equal(finished, true);
  });

  it('keeps an alert that fired again while the flush telling its resolution was under way', async () => {
    const labels = { alertname: 'x' };
    let during: (() => void) | undefined;
    const h = harness(tree({ receiver: 'team', groupBy: ['alertname'], groupWaitMs: 0, groupIntervalMs: 5 * M }), {
      onFlush: async () => {
        during?.();
        return true;
      },
    });
    h.dispatcher.ingest([alert(labels)]);
    await h.at(60);
    h.dispatcher.ingest([resolvedAlert(labels, T0 + 60 * S)]);
    during = () => h.dispatcher.ingest([alert(labels, { startsAt: T0 + 300 * S })]);
    await h.at(300);
    during = undefined;
    await h.at(600);
    assert.deepEqual(
      h.flushed.map((f) => [f.t, f.reason, f.alerts]),
      [
        [0, 'first', ['x:firing']],
        [300, 'all_resolved', ['x:resolved']],
        [600, 'first', ['x:firing']],
      ],
    );
    await h.dispatcher.stop();
  });
});

describe('flushReason', () => {
  const last = (firing: string[], resolved: string[] = [], at = 0): GroupFlushState => ({ groupKey: 'g', receiver: 'r', at, firing, resolved });
  const table: [name: string, last: GroupFlushState | undefined, firing: string[], resolved: string[], now: number, expected: FlushReason | undefined][] = [
    ['never notified, something fires', undefined, ['a'], [], 0, 'first'],
    ['never notified, only resolved', undefined, [], ['a'], 0, undefined],
    ['a new firing alert', last(['a']), ['a', 'b'], [], 10, 'new_alerts'],
    ['firing again after an all-resolved notification', last([], ['a']), ['a'], [], 10, 'first'],
    ['all resolved after a notification', last(['a']), [], ['a'], 10, 'all_resolved'],
    ['all resolved, nobody was told', last([], ['a']), [], ['b'], 10, undefined],
    ['a newly resolved alert', last(['a', 'b']), ['b'], ['a'], 10, 'new_resolved'],
    ['fewer firing, none resolved (alert removed)', last(['a', 'b']), ['b'], [], 10, undefined],
    ['unchanged, before repeat_interval', last(['a']), ['a'], [], 99, undefined],
    ['unchanged, at repeat_interval', last(['a']), ['a'], [], 100, 'repeat'],
  ];
  for (const [name, l, firing, resolved, now, expected] of table) {
    it(`${name} → ${expected ?? 'no notification'}`, () => {
      assert.equal(flushReason(l, new Set(firing), new Set(resolved), 100, now), expected);
    });
  }
});
