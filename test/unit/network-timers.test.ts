// The network actor's part timers (src/actors/network/lifecycle.ts): a simulated link delay puts
// every message in flight to sleep on one stop signal, so many sleeps wait at once. They must
// not trip Node's listener-leak warning (the simulator counts one as a violation), and stop()
// ends them all.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Timers } from '../../src/actors/network/lifecycle.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';

describe('network part timers', () => {
  it('holds a hundred sleeps at once without a listener-leak warning, and stop() ends them', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => { warnings.push(w.name); };
    process.on('warning', onWarning);
    try {
      const timers = new Timers(systemClock, createLogger({ level: 'silent', nodeId: 'test', pretty: false }));
      const started = Date.now();
      const sleeps = Array.from({ length: 100 }, () => timers.sleep(60_000));
      timers.stop();
      await Promise.all(sleeps);
      assert.ok(Date.now() - started < 5000, 'stop() woke every sleep');
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
