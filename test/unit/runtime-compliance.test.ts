// One compliance suite, run against both hosts: the same actor code must behave the same
// inline (MessageChannel) and threaded (worker_threads).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { counter, once, testSupervisor } from '../helpers/runtime.ts';
import type { Placement } from '../../src/runtime/actor.ts';

for (const placement of ['inline', 'thread'] as Placement[]) {
  describe(`actor host compliance: ${placement}`, () => {
    it('starts an actor, delivers messages in order and answers requests', async () => {
      const sup = testSupervisor([counter('a', placement)]);
      await sup.start();
      for (let i = 0; i < 5; i++) sup.send('a', { type: 'inc' });
      const v = await sup.request<{ n: number }>('a', { type: 'get' }, 2000);
      assert.equal(v.n, 5);
      const who = await sup.request<{ placement: string; isMainThread: boolean }>('a', { type: 'whoami' }, 2000);
      assert.equal(who.placement, placement);
      assert.equal(who.isMainThread, placement === 'inline');
      assert.deepEqual(sup.actors().map((x) => [x.name, x.status, x.state]), [['a', 'running', 'running']]);
      await sup.stop();
      assert.equal(sup.actors()[0]!.status, 'stopped');
    });

    it('routes a request from one actor to another by name', async () => {
      const sup = testSupervisor([counter('a', placement), counter('b', placement === 'inline' ? 'thread' : 'inline')]);
      await sup.start();
      sup.send('b', { type: 'inc' });
      sup.send('b', { type: 'inc' });
      const v = await sup.request<{ n: number }>('a', { type: 'ask', to: 'b' }, 2000);
      assert.equal(v.n, 2);
      await assert.rejects(sup.request('a', { type: 'ask', to: 'nobody' }, 2000), /no actor named nobody/);
      await sup.stop();
    });

    it('restarts a crashed actor from a clean state and tells its peers', async () => {
      const sup = testSupervisor([counter('a', placement), counter('peer', 'inline')]);
      await sup.start();
      sup.send('a', { type: 'inc' });
      assert.equal((await sup.request<{ n: number }>('a', { type: 'get' }, 2000)).n, 1);
      const restarted = once<{ name: string }>(sup, 'restarted');
      sup.send('a', { type: 'bug' });
      assert.equal((await restarted).name, 'a');
      assert.equal((await sup.request<{ n: number }>('a', { type: 'get' }, 2000)).n, 0);
      const peer = await sup.request<{ seen: string[] }>('peer', { type: 'get' }, 2000);
      assert.deepEqual(peer.seen, ['down:a', 'up:a']);
      const info = sup.actors().find((x) => x.name === 'a')!;
      assert.equal(info.crashes, 1);
      assert.equal(info.restarts, 1);
      await sup.stop();
    });

    for (const mode of placement === 'thread' ? ['terminate', 'throw'] as const : ['throw'] as const) {
      it(`survives a kill (${mode}) and keeps working`, async () => {
        const sup = testSupervisor([counter('a', placement)]);
        await sup.start();
        const crashed = once<{ name: string; error: { message: string } }>(sup, 'crashed');
        const restarted = once(sup, 'restarted');
        await sup.kill('a', mode);
        const c = await crashed;
        if (mode === 'throw') assert.match(c.error.message, /killed on purpose/);
        await restarted;
        sup.send('a', { type: 'inc' });
        assert.equal((await sup.request<{ n: number }>('a', { type: 'get' }, 2000)).n, 1);
        assert.equal(sup.counters.crashed, 1);
        await sup.stop();
      });
    }

    it('holds messages sent while an actor restarts and delivers them after', async () => {
      const sup = testSupervisor([counter('a', placement)]);
      await sup.start();
      const restarted = once(sup, 'restarted');
      sup.send('a', { type: 'bug' });
      // The crash is noticed asynchronously; these are sent before or during the restart.
      await new Promise((r) => setTimeout(r, 5));
      sup.send('a', { type: 'inc' });
      await restarted;
      sup.send('a', { type: 'inc' });
      const n = (await sup.request<{ n: number }>('a', { type: 'get' }, 2000)).n;
      assert.ok(n >= 1 && n <= 2, `expected the post-crash increments to arrive, got ${n}`);
      await sup.stop();
    });

    it('fails start() when a child cannot start, stopping those already started', async () => {
      const sup = testSupervisor([counter('ok', placement), counter('bad', placement, { args: { failStart: true } })]);
      await assert.rejects(sup.start(), (err: Error) => err.name === 'ActorStartError' && /failStart/.test(err.message));
      assert.deepEqual(sup.actors().map((x) => x.status), ['stopped', 'stopped']);
    });

    it('restarts on request, resetting state', async () => {
      const sup = testSupervisor([counter('a', placement)]);
      await sup.start();
      sup.send('a', { type: 'inc' });
      await sup.restart('a');
      assert.equal((await sup.request<{ n: number }>('a', { type: 'get' }, 2000)).n, 0);
      assert.equal(sup.actors()[0]!.restarts, 1);
      await sup.stop();
    });
  });
}
