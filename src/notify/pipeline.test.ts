import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRouteTree } from '../dispatch/route.ts';
import { recoveryBounds } from './pipeline.ts';

describe('recoveryBounds', () => {
  const S = 1000;
  const bound = recoveryBounds(
    buildRouteTree({
      receiver: 'ops-team',
      groupIntervalMs: 5 * 60 * S,
      routes: [
        { name: 'fast', receiver: 'pager', matchers: ['alertname="a"'], groupIntervalMs: 2 * S },
        { name: 'slow', receiver: 'pager', matchers: ['alertname="b"'], groupIntervalMs: 60 * S },
        { name: 'inherits', receiver: 'mail', matchers: ['alertname="c"'] },
        { name: 'quick', receiver: 'chat', matchers: ['alertname="d"'], groupIntervalMs: 4 * S },
      ],
    }),
  );
  const table: [string, number, string][] = [
    ['pager', 2 * S, 'the smallest group_interval of the routes naming it'],
    ['chat', 4 * S, 'its route’s group_interval, below 10 s'],
    ['mail', 10 * S, 'an inherited 5m group_interval, capped at 10 s'],
    ['ops-team', 10 * S, 'the root’s 5m group_interval, capped at 10 s'],
    ['on_call_dba', 2 * S, 'a receiver no route names: the smallest of all routes'],
  ];
  for (const [receiver, ms, why] of table) {
    it(`gives ${receiver} ${ms} ms: ${why}`, () => assert.equal(bound(receiver), ms));
  }
});
