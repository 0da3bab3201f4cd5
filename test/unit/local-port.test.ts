// The in-thread channel of inline actors: a MessagePort's contract (clones, order, delivery after
// the post, messages wait for a listener), delivered without waiting for a turn of the loop.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalPort } from '../../src/runtime/local-port.ts';
import { counter, testSupervisor } from '../helpers/runtime.ts';

describe('LocalPort', () => {
  it('delivers clones, in order, after the post, and holds messages until a listener comes', async () => {
    const { port1, port2 } = LocalPort.channel<unknown, { n: number; o: { x: number } }>();
    const o = { x: 1 };
    port1.postMessage({ n: 1, o });
    port1.postMessage({ n: 2, o });
    o.x = 99;
    const got: Array<{ n: number; o: { x: number } }> = [];
    port2.on('message', (m) => got.push(m));
    assert.equal(got.length, 0, 'not delivered synchronously');
    await Promise.resolve();
    assert.deepEqual(got.map((m) => [m.n, m.o.x]), [[1, 1], [2, 1]], 'in order, as they were when posted');
    got[0]!.o.x = 5;
    assert.equal(got[1]!.o.x, 1, 'each message its own clone');
    port1.postMessage({ n: 3, o });
    port1.close();
    port1.postMessage({ n: 4, o });
    port2.postMessage({ n: 5, o });
    await Promise.resolve();
    assert.deepEqual(got.map((m) => m.n), [1, 2, 3], 'what was posted before close still arrives; nothing after, from either end');
  });

  it('refuses what a MessagePort refuses', () => {
    const { port1 } = LocalPort.channel();
    assert.throws(() => port1.postMessage({ f: () => 1 }), { name: 'DataCloneError' });
  });

  it("inline actors' requests take no turn of the event loop, however many hops", async () => {
    const sup = testSupervisor([counter('a', 'inline'), counter('b', 'inline')]);
    await sup.start();
    try {
      sup.send('b', { type: 'inc' });
      let turned = false;
      setImmediate(() => { turned = true; });
      // Test → a → b and back: eight hops through the supervisor.
      const reply = await sup.request<{ n: number }>('a', { type: 'ask', to: 'b' }, 1000);
      assert.equal(reply.n, 1);
      assert.equal(turned, false, 'answered before the loop reached its next check phase');
    } finally {
      await sup.stop();
    }
  });
});
