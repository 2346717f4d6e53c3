import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { silentLogger } from '../lib/logger.ts';
import { createAuditLog } from './audit-log.ts';
import { AUDIT_PRUNE_EVERY_MS, createAuditRetention } from './audit-retention.ts';

const DAY = 86_400_000;

describe('audit retention', () => {
  it('prunes at its first run, then not again until a day has passed, keeping the chain verifiable', async () => {
    let now = 100 * DAY;
    const audit = createAuditLog(new Database(':memory:'), { now: () => now });
    for (let i = 1; i <= 20; i++) audit.append({ at: i * DAY, kind: 'schema.ddl', actor: 'a', details: {} });
    const retention = createAuditRetention(audit, { retentionMs: () => 90 * DAY, intervalMs: 15_000 });
    const run = () => retention.collect({ now, signal: new AbortController().signal, log: silentLogger }, () => {});
    await run();
    assert.equal(audit.list({ kindPrefix: 'dpmon.audit_pruned' })[0]?.details.deleted, 9, 'days 1-9 are older than 90 days at day 100');
    now += AUDIT_PRUNE_EVERY_MS - 1;
    await run();
    assert.equal(audit.list({ kindPrefix: 'dpmon.audit_pruned' }).length, 1, 'not again within the day');
    now += 1;
    await run();
    const prunes = audit.list({ kindPrefix: 'dpmon.audit_pruned' });
    assert.equal(prunes.length, 2);
    assert.equal(prunes[0]!.details.deleted, 1);
    assert.ok(audit.verify().ok);
  });
});
