import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifySeverity } from './severity.ts';

describe('classifySeverity', () => {
  const table: [string | undefined, string][] = [
    ['critical', 'high'],
    ['CRITICAL', 'high'],
    ['high', 'high'],
    ['page', 'high'],
    ['warning', 'medium'],
    ['medium', 'medium'],
    ['info', 'low'],
    ['informational', 'low'],
    ['none', 'low'],
    ['low', 'low'],
    [undefined, 'medium'],
    ['whatever', 'medium'],
  ];
  for (const [label, want] of table) it(`${label} → ${want}`, () => assert.equal(classifySeverity(label), want));
});
