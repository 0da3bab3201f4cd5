// Thread choice for llama.cpp decodes: one sequence on `single` threads, a batch on `batch`
// threads, and never more than the cores between the models of one process.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { BUDGET_ENV_KEY, ONE_THREAD_MARGIN, TUNE_HOLD_MAX_MS, TUNE_HOLD_MS, TUNE_WINDOW_MS, ThreadBudget, ThreadGovernor, modelsGenerating, processThreadBudget, threadsFor } from '../../src/actors/inference/threads.ts';
import { loadConfig } from '../../src/config/index.ts';
import { testConfig } from '../helpers/config.ts';
import { defaultBatchThreads } from '../../src/node/models.ts';

const plan = { single: 1, batch: 2, cores: 2 };

describe('inference threads', () => {
  it('gives one sequence its single count and a batch its batch count', () => {
    assert.equal(threadsFor(plan, 0, 0), 1);
    assert.equal(threadsFor(plan, 1, 1), 1);
    assert.equal(threadsFor(plan, 2, 1), 2);
    assert.equal(threadsFor(plan, 4, 1), 2);
  });

  it('splits the cores between models generating at the same time, never below one thread', () => {
    assert.equal(threadsFor(plan, 4, 2), 1);
    assert.equal(threadsFor({ single: 4, batch: 8, cores: 8 }, 4, 2), 4);
    assert.equal(threadsFor({ single: 4, batch: 8, cores: 8 }, 1, 3), 2);
    assert.equal(threadsFor(plan, 4, 5), 1);
  });

  it('two governors sharing one budget never plan more threads than the cores together', () => {
    const budget = new ThreadBudget();
    const applied = [0, 0];
    const a = new ThreadGovernor(plan, (n) => { applied[0] = n; }, budget.table, budget.take());
    const b = new ThreadGovernor(plan, (n) => { applied[1] = n; }, budget.table, budget.take());
    const planned = () => [a.plannedThreads, b.plannedThreads];
    a.setBusy(4);
    assert.deepEqual(planned(), [2, 0], 'a alone plans a batch on both cores');
    assert.ok(applied[0]! <= 2);
    b.setBusy(1);
    a.apply(); // a re-reads the table between tokens
    assert.equal(modelsGenerating(budget.table), 2);
    assert.deepEqual(planned(), [1, 1], 'two models: one core each');
    assert.deepEqual(applied, [1, 1]);
    b.setBusy(0);
    a.apply();
    assert.deepEqual(planned(), [2, 1], 'b done: a may take both cores again');
  });

  it('a released slot (engine closed or its worker dead) no longer counts', () => {
    const budget = new ThreadBudget();
    const slot = budget.take()!;
    Atomics.store(budget.table, slot, 3); // a worker died with 3 sequences busy
    assert.equal(modelsGenerating(budget.table), 1);
    budget.release(slot);
    assert.equal(modelsGenerating(budget.table), 0);
    assert.equal(budget.take(), slot, 'the slot is free again');
  });

  it('the process budget is one table for every thread: a slot a worker takes is taken here', async () => {
    const budget = processThreadBudget();
    // A plain worker (no TypeScript loader): takes the first free slot of the inherited buffer
    // the way ThreadBudget.take does, marks 2 sequences busy, and reports the slot.
    const slot = await new Promise<number>((resolve, reject) => {
      const w = new Worker(`
        const { getEnvironmentData, parentPort } = require('node:worker_threads');
        const buf = getEnvironmentData(${JSON.stringify(BUDGET_ENV_KEY)});
        const slots = buf.byteLength / 8;
        const table = new Int32Array(buf, 0, slots), claims = new Int32Array(buf, slots * 4, slots);
        for (let i = 0; i < slots; i++) if (Atomics.compareExchange(claims, i, 0, 1) === 0) { Atomics.store(table, i, 2); parentPort.postMessage(i); break; }
      `, { eval: true });
      w.once('message', (n: number) => { resolve(n); void w.terminate(); });
      w.once('error', reject);
    });
    assert.equal(Atomics.load(budget.table, slot), 2, 'the worker wrote into this thread\'s table');
    const mine = budget.take()!;
    assert.notEqual(mine, slot, 'the slot the worker took is not handed out again');
    assert.ok(modelsGenerating(budget.table) >= 1);
    budget.release(slot);
    budget.release(mine);
  });

  it('keeps one thread when a decode on the planned threads is slower (cores held by others), and compares again later', () => {
    let t = 0;
    let applied = 0;
    const g = new ThreadGovernor(plan, (n) => { applied = n; }, undefined, undefined, () => t);
    // Generates at `perS` tokens/s (4 sequences) for `ms`, one token event per sequence step.
    const run = (perS: Record<number, number>, ms: number) => {
      const end = t + ms;
      while (t < end) { t += 4000 / perS[applied]!; g.tokens(4); }
    };
    g.setBusy(4);
    assert.equal(applied, 1, 'one thread first');
    const slow = new Set<number>();
    const spy = { 1: 100, 2: 5 };
    const end0 = t + TUNE_WINDOW_MS * 2 + 2000;
    while (t < end0) { const n = applied as 1 | 2; t += 4000 / spy[n]; if (n === 2) slow.add(t); g.tokens(4); }
    assert.equal(slow.size, 1, 'the crawling count costs a single decode');
    assert.equal(applied, 1, 'one thread measured faster: kept');
    run({ 1: 100, 2: 5 }, TUNE_HOLD_MS * 4);
    assert.equal(applied, 1, 'still held: it won by more than twice, so the hold is the longest');
    run({ 1: 100, 2: 180 }, TUNE_HOLD_MAX_MS + TUNE_WINDOW_MS * 4); // the cores are free again
    assert.equal(applied, 2, 'compared again after the hold: the plan wins back');
  });

  it('an idle machine keeps the planned threads after comparing', () => {
    let t = 0;
    let applied = 0;
    const g = new ThreadGovernor(plan, (n) => { applied = n; }, undefined, undefined, () => t);
    g.setBusy(4);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) { t += 4000 / (applied === 2 ? 180 : 100); g.tokens(4); seen.add(applied); }
    assert.deepEqual([...seen].sort(), [1, 2], 'one thread was tried');
    assert.equal(applied, 2);
    g.setBusy(1);
    assert.equal(applied, 1, 'one sequence: the single count, no comparison');
  });

  it('one thread must win by a margin: a noisy window on an idle machine keeps the plan', () => {
    let t = 0;
    let applied = 0;
    const g = new ThreadGovernor(plan, (n) => { applied = n; }, undefined, undefined, () => t);
    g.setBusy(4);
    // One thread measures a little faster (another thread of the node took a core for a while).
    const rates = { 1: 100 * ONE_THREAD_MARGIN * 0.95, 2: 100 };
    for (let i = 0; i < 200; i++) { t += 4000 / rates[applied as 1 | 2]; g.tokens(4); }
    assert.equal(applied, 2);
    const clear = { 1: 100 * ONE_THREAD_MARGIN * 1.05, 2: 100 };
    t += TUNE_HOLD_MS;
    for (let i = 0; i < 200; i++) { t += 4000 / clear[applied as 1 | 2]; g.tokens(4); }
    assert.equal(applied, 1, 'a clear win takes one thread');
  });

  it('a choice holds while jobs come and go: one window per hold, not one per job', () => {
    let t = 0;
    let applied = 0;
    let windows = 0;
    let busy = 0;
    // A window on one thread: one thread applied while several sequences are busy.
    const g = new ThreadGovernor(plan, (n) => { if (n === 1 && busy > 1) windows++; applied = n; }, undefined, undefined, () => t);
    const setBusy = (n: number) => { busy = n; g.setBusy(n); };
    const step = (busy: number, tokens: number) => { for (let i = 0; i < tokens; i++) { t += busy * 1000 / (applied === 2 ? 180 : 100); g.tokens(busy); } };
    setBusy(2); step(2, 200);
    assert.equal(applied, 2);
    assert.equal(windows, 1, 'the first batch compared once');
    setBusy(3); step(3, 20); setBusy(4); step(4, 20); // jobs arriving one after another
    setBusy(0); t += 500; setBusy(4); step(4, 20); // a pause between batches
    assert.equal(windows, 1, 'within the hold, no further window on one thread');
    assert.equal(applied, 2);
    t += TUNE_HOLD_MS; step(4, 200);
    assert.equal(windows, 2, 'the hold ended: compared again');
    assert.equal(applied, 2);
  });

  it('batch threads: every core by default, model.threads alone fixes both, batch_threads wins', () => {
    const cfg = (model: { threads?: number; batch_threads?: number }) => testConfig({ model });
    assert.ok(defaultBatchThreads(loadConfig({ env: {} }), 1) >= 1);
    assert.equal(defaultBatchThreads(cfg({ threads: 3 }), 3), 3);
    assert.equal(defaultBatchThreads(cfg({ threads: 1, batch_threads: 2 }), 1), 2);
  });
});
