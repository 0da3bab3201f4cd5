// The worker's token batcher: the first chunk leaves at once, later ones at most once per
// window, `end` flushes the rest; nothing is lost, duplicated or reordered.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBatcher, type BatchTimers } from '../../src/actors/inference/token-batch.ts';

/** Virtual time: timers fire only when the test advances the clock. */
function fakeTimers() {
  let now = 0;
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  const timers: BatchTimers = {
    now: () => now,
    setTimeout: (fn, ms) => { const id = ++seq; due.set(id, { at: now + ms, fn }); return id; },
    clearTimeout: (id) => { due.delete(id as number); },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...due].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now && due.has(id)) { due.delete(id); t.fn(); }
    }
  };
  return { timers, advance, pending: () => due.size };
}

describe('token batcher', () => {
  it('sends the first chunk at once, batches the next within the window, flushes on end', () => {
    const { timers, advance } = fakeTimers();
    const sent: string[] = [];
    const b = new TokenBatcher((t) => sent.push(t), 20, timers);
    b.push('a');
    assert.deepEqual(sent, ['a'], 'first chunk immediately');
    advance(5); b.push('b');
    advance(5); b.push('c');
    assert.deepEqual(sent, ['a'], 'held within the window');
    advance(10);
    assert.deepEqual(sent, ['a', 'bc'], 'sent when the window closes');
    advance(3); b.push('d');
    b.end();
    assert.deepEqual(sent, ['a', 'bc', 'd'], 'end flushes');
    b.push('e');
    advance(100);
    assert.deepEqual(sent, ['a', 'bc', 'd'], 'nothing after end');
  });

  it('sends each chunk on its own when they come slower than the window', () => {
    const { timers, advance, pending } = fakeTimers();
    const sent: string[] = [];
    const b = new TokenBatcher((t) => sent.push(t), 20, timers);
    for (const t of ['x', 'y', 'z']) { b.push(t); advance(25); }
    assert.deepEqual(sent, ['x', 'y', 'z']);
    assert.equal(pending(), 0);
  });

  it('with a window of 0 sends every chunk as it comes', () => {
    const { timers } = fakeTimers();
    const sent: string[] = [];
    const b = new TokenBatcher((t) => sent.push(t), 0, timers);
    for (const t of ['1', '2', '3']) b.push(t);
    assert.deepEqual(sent, ['1', '2', '3']);
  });

  it('keeps every chunk in order whatever the timing (random schedule)', () => {
    for (let run = 0; run < 50; run++) {
      const { timers, advance } = fakeTimers();
      const sent: string[] = [];
      const b = new TokenBatcher((t) => sent.push(t), 20, timers);
      const chunks = Array.from({ length: 40 }, (_, i) => `<${i}>`);
      for (const c of chunks) { b.push(c); advance(Math.floor(Math.random() * 30)); }
      b.end();
      assert.equal(sent.join(''), chunks.join(''));
      assert.ok(sent.length <= chunks.length);
    }
  });
});
