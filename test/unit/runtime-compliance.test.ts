// One compliance suite, run against both hosts: the same actor code must behave the same
// inline (MessageChannel) and threaded (worker_threads).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { counter, counterModule, once, testSupervisor } from '../helpers/runtime.ts';
import type { Down, Mail, Placement, Up } from '../../src/runtime/actor.ts';
import { LocalPort } from '../../src/runtime/local-port.ts';
import { loadActorModule, runActor } from '../../src/runtime/runner.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import type { Config } from '../../src/config/types.ts';

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

describe('direct links between threaded actors', () => {
  it('holds what comes over a new link until its sender\'s marker says the routed messages are in', async () => {
    const { port1: host, port2: actorPort } = LocalPort.channel<Up, Down>();
    const ups: Up[] = [];
    host.on('message', (u) => ups.push(u));
    const running = runActor(await loadActorModule(counterModule), {
      spec: { name: 'b', module: counterModule, restart: 'permanent', shutdownMs: 1000 },
      port: actorPort, config: {} as Config, clock: systemClock, log: createLogger({ level: 'silent', nodeId: 't', pretty: false }), placement: 'thread',
    });
    const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
    while (!ups.some((u) => u.k === 'ready')) await tick(5);
    const { port1: atA, port2: atB } = new MessageChannel();
    host.postMessage({ k: 'link', name: 'a', port: atB } satisfies Down, [atB]);
    await tick();
    assert.ok(ups.some((u) => u.k === 'linked' && u.to === 'a'), 'b tells the supervisor it has switched');
    // a's second note overtakes its first, which the supervisor still relays.
    atA.postMessage({ k: 'event', from: 'a', msg: { type: 'note', v: 1 } } satisfies Mail);
    await tick();
    host.postMessage({ k: 'event', from: 'a', msg: { type: 'note', v: 0 } } satisfies Down);
    host.postMessage({ k: 'linked', from: 'a' } satisfies Down);
    host.postMessage({ k: 'request', id: 'q1', from: 'test', msg: { type: 'get' } } satisfies Down);
    await tick();
    const answer = ups.find((u) => u.k === 'reply' && u.id === 'q1');
    assert.deepEqual((answer as { value: { notes: number[] } }).value.notes, [0, 1]);
    host.postMessage({ k: 'stop' } satisfies Down);
    await running;
    atA.close();
  });

  it('carries a request between two threaded actors without the supervisor, and not to or from an inline one', async () => {
    const sup = testSupervisor([counter('a', 'thread'), counter('b', 'thread'), counter('c', 'inline')]);
    await sup.start();
    const overLink = await sup.request<{ from: string; replyTo: string }>('a', { type: 'ask', to: 'b', msg: { type: 'whoami' } }, 2000);
    assert.equal(overLink.from, 'a');
    assert.match(overLink.replyTo, /^link#/, 'b got the request over its link to a');
    const routed = await sup.request<{ replyTo: string }>('a', { type: 'ask', to: 'c', msg: { type: 'whoami' } }, 2000);
    assert.doesNotMatch(routed.replyTo, /^link#/, 'an inline actor is reached through the supervisor');
    await sup.stop();
  });

  it('loses none of one sender\'s messages, and keeps their order, while its link to a restarted actor is set up', async () => {
    const sup = testSupervisor([counter('a', 'thread'), counter('b', 'thread')]);
    await sup.start();
    const count = 20_000;
    sup.send('a', { type: 'spray', to: 'b', count });
    await new Promise((r) => setTimeout(r, 20));
    // The new b gets notes held while it restarted, then routed ones, then linked ones.
    await sup.restart('b');
    let notes: number[] = [];
    for (let i = 0; i < 200 && notes.at(-1) !== count - 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      notes = (await sup.request<{ notes: number[] }>('b', { type: 'get' }, 2000)).notes;
    }
    assert.ok(notes.length > 0 && notes.length < count, `the new b got part of the notes (${notes.length})`);
    assert.equal(notes.at(-1), count - 1);
    const outOfOrder = notes.findIndex((v, i) => i > 0 && v !== notes[i - 1]! + 1);
    assert.equal(outOfOrder, -1, `notes in order, none lost, from ${notes[0]} on (first break at ${outOfOrder}: ${notes.slice(Math.max(0, outOfOrder - 2), outOfOrder + 2).join(', ')})`);
    await sup.stop();
  });

  it('fails a request pending over a link as soon as the other actor dies, then reaches its new incarnation', async () => {
    const sup = testSupervisor([counter('a', 'thread'), counter('b', 'thread')]);
    await sup.start();
    const asked = Date.now();
    const pending = sup.request('a', { type: 'ask', to: 'b', msg: { type: 'never' }, timeout_ms: 20_000 }, 30_000);
    await new Promise((r) => setTimeout(r, 50));
    const restarted = once(sup, 'restarted');
    await sup.kill('b', 'terminate');
    await assert.rejects(pending, /actor b is down/);
    assert.ok(Date.now() - asked < 10_000, 'failed by the news of the death, not by its timeout');
    await restarted;
    const who = await sup.request<{ replyTo: string }>('a', { type: 'ask', to: 'b', msg: { type: 'whoami' } }, 2000);
    assert.match(who.replyTo, /^link#/, 'linked again to the new b');
    await sup.stop();
  });
});
