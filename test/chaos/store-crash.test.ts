// Chaos: the node killed -9 at many random points (STORE_CRASH_POINTS, default 50) while jobs
// and their receipts stream in; after each restart every acknowledged receipt is there, once, and
// `data check` finds the store healthy. `npm test` runs it with 5 points.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashScenario } from '../helpers/crash.ts';
import { record } from './report.ts';

const POINTS = Number(process.env.STORE_CRASH_POINTS ?? 50);

describe('chaos: store crash consistency', () => {
  it(`keeps every acknowledged receipt across ${POINTS} kills -9`, async () => {
    assert.ok(Number.isInteger(POINTS) && POINTS > 0, `STORE_CRASH_POINTS must be a positive integer, not ${process.env.STORE_CRASH_POINTS}`);
    const r = await crashScenario(POINTS);
    assert.ok(r.acknowledged >= POINTS, `only ${r.acknowledged} receipts were acknowledged: the kills did not land mid-stream`);
    assert.ok(r.stored >= r.acknowledged);
    record('store-crash', { kill_points: r.points, receipts_acknowledged: r.acknowledged, receipts_stored: r.stored, seed: r.seed });
  });
});
