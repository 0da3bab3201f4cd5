// The lifecycle shared by the actors' machines (src/runtime/lifecycle.ts) and the clock their
// delays run on: a delayed transition is a timer on the clock the actor was given (so the
// simulator's virtual time drives it), and a start that fails ends in `failed`, which the
// supervisor sees as the actor failing to start, with the start's own error.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { InlineHost, ThreadHost } from '../../src/runtime/host.ts';
import { Supervisor } from '../../src/runtime/supervisor.ts';
import { systemClock, type Clock, type Timer } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import type { Config } from '../../src/config/types.ts';
import { until } from '../helpers/runtime.ts';

const delayed = fileURLToPath(new URL('../fixtures/delayed-actor.ts', import.meta.url));

function supervisor(clock: Clock, module: string, args?: unknown) {
  const logOptions = { level: 'silent' as const, nodeId: 'test', pretty: false };
  const log = createLogger(logOptions);
  const env = { config: {} as Config, clock, log, logOptions };
  return new Supervisor({
    strategy: 'one_for_one', intensity: 0, periodMs: 5000,
    children: [{ name: 'subject', module, restart: 'permanent', shutdownMs: 2000, placement: 'inline', ...(args !== undefined ? { args } : {}) }],
    hosts: { inline: new InlineHost(env), thread: new ThreadHost(env) },
    clock: systemClock, log,
  });
}

describe('actor lifecycle and clock', () => {
  it('runs a machine\'s delayed transition on the clock the actor was given', async () => {
    // The real clock, except that timers of a minute are held here to be fired by hand.
    const held: Array<{ fn: () => void; ms: number }> = [];
    const clock: Clock = {
      ...systemClock,
      setTimeout: (fn, ms) => {
        if (ms < 60_000) return systemClock.setTimeout(fn, ms);
        const t = { fn, ms };
        held.push(t);
        return t as Timer;
      },
      clearTimeout: (t) => { const i = held.indexOf(t as { fn: () => void; ms: number }); if (i >= 0) held.splice(i, 1); else systemClock.clearTimeout(t); },
    };
    const sup = supervisor(clock, delayed);
    await sup.start();
    try {
      const state = () => sup.actors()[0]!.state;
      assert.equal(state(), 'waiting');
      assert.deepEqual(held.map((t) => t.ms), [60_000]);
      held.shift()!.fn();
      await until(async () => state() === 'late', 5000, 'the delayed transition');
    } finally {
      await sup.stop();
    }
  });
});
