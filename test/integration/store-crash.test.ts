// The store survives kill -9 (the short version: 5 kill points; the chaos suite runs 50).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashScenario } from '../helpers/crash.ts';

describe('store: crash consistency', () => {
  it('keeps every acknowledged receipt, once, across 5 kills -9 while jobs stream in, and data check finds it healthy', async () => {
    const r = await crashScenario(5);
    assert.ok(r.acknowledged >= 5, `only ${r.acknowledged} receipts were acknowledged: the kills did not land mid-stream`);
    assert.ok(r.stored >= r.acknowledged);
  });
});
