// Supervision semantics: strategies, restart types, intensity, ordered shutdown.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { counter, once, testSupervisor } from '../helpers/runtime.ts';
import { SUPERVISOR, type ActorInfo, type KillReply } from '../../src/runtime/supervisor.ts';

const get = (sup: ReturnType<typeof testSupervisor>, name: string) => sup.request<{ n: number }>(name, { type: 'get' }, 2000).then((v) => v.n);
const bump = (sup: ReturnType<typeof testSupervisor>, ...names: string[]) => { for (const n of names) sup.send(n, { type: 'inc' }); };

describe('supervisor', () => {
  it('one_for_one restarts only the crashed child', async () => {
    const sup = testSupervisor([counter('a', 'inline'), counter('b', 'inline'), counter('c', 'inline')]);
    await sup.start();
    bump(sup, 'a', 'b', 'c');
    const r = once(sup, 'restarted');
    sup.send('b', { type: 'bug' });
    await r;
    assert.deepEqual([await get(sup, 'a'), await get(sup, 'b'), await get(sup, 'c')], [1, 0, 1]);
    await sup.stop();
  });

  it('one_for_all restarts every child when one crashes', async () => {
    const sup = testSupervisor([counter('a', 'inline'), counter('b', 'inline'), counter('c', 'inline')], { strategy: 'one_for_all' });
    await sup.start();
    bump(sup, 'a', 'b', 'c');
    const names: string[] = [];
    sup.on('restarted', (e: { name: string }) => names.push(e.name));
    sup.send('b', { type: 'bug' });
    while (names.length < 3) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(names, ['a', 'b', 'c']);
    assert.deepEqual([await get(sup, 'a'), await get(sup, 'b'), await get(sup, 'c')], [0, 0, 0]);
    await sup.stop();
  });

  it('rest_for_one restarts the crashed child and those started after it', async () => {
    const sup = testSupervisor([counter('a', 'inline'), counter('b', 'inline'), counter('c', 'inline')], { strategy: 'rest_for_one' });
    await sup.start();
    bump(sup, 'a', 'b', 'c');
    const names: string[] = [];
    sup.on('restarted', (e: { name: string }) => names.push(e.name));
    sup.send('b', { type: 'bug' });
    while (names.length < 2) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(names, ['b', 'c']);
    assert.deepEqual([await get(sup, 'a'), await get(sup, 'b'), await get(sup, 'c')], [1, 0, 0]);
    await sup.stop();
  });

  it('does not restart a temporary child, and restarts a transient one only after a crash', async () => {
    const sup = testSupervisor([counter('t', 'inline', { restart: 'temporary' }), counter('tr', 'inline', { restart: 'transient' })]);
    await sup.start();
    const crashed = once(sup, 'crashed');
    sup.send('t', { type: 'bug' });
    await crashed;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sup.actors()[0]!.status, 'stopped');
    await assert.rejects(get(sup, 't'), /ActorDown|is down/);
    const r = once(sup, 'restarted');
    sup.send('tr', { type: 'bug' });
    await r;
    assert.equal(sup.actors()[1]!.status, 'running');
    await sup.stop();
  });

  it('gives up after more restarts than its intensity allows, stopping every child', async () => {
    const sup = testSupervisor([counter('a', 'inline'), counter('loop', 'inline')], { intensity: 2, periodMs: 10_000 });
    await sup.start();
    const gaveUp = once<{ name: string; reason: string }>(sup, 'gave_up');
    for (let i = 0; i < 3; i++) {
      const ev = i < 2 ? once(sup, 'restarted') : gaveUp;
      sup.send('loop', { type: 'bug' });
      await ev;
    }
    const e = await gaveUp;
    assert.equal(e.name, 'loop');
    assert.match(e.reason, /more than 2 times/);
    assert.equal(sup.status, 'gave_up');
    assert.deepEqual(sup.actors().map((x) => x.status), ['stopped', 'stopped']);
    assert.equal(sup.counters.gave_up, 1);
  });

  it('stops children in reverse order and terminates one that overruns its shutdown timeout', async () => {
    const sup = testSupervisor([counter('first', 'inline'), counter('hangs', 'thread', { args: { hangOnStop: true }, shutdownMs: 300 }), counter('last', 'inline')]);
    await sup.start();
    const stopped: Array<{ name: string; reason: string }> = [];
    sup.on('stopped', (e: { name: string; reason: string }) => stopped.push(e));
    const t0 = Date.now();
    await sup.stop();
    assert.deepEqual(stopped.map((e) => e.name), ['last', 'hangs', 'first']);
    assert.match(stopped[1]!.reason, /terminated/);
    assert.ok(Date.now() - t0 >= 300, 'the hanging child was given its shutdown time');
  });

  it('answers supervisor.actors addressed to $supervisor, from outside and from an actor on either host', async () => {
    const sup = testSupervisor([counter('a', 'inline'), counter('b', 'thread')]);
    await sup.start();
    try {
      const direct = await sup.request<ActorInfo[]>(SUPERVISOR, { type: 'supervisor.actors' }, 2000);
      assert.deepEqual(direct, sup.actors());
      assert.deepEqual(direct.map((x) => [x.name, x.placement, x.status]), [['a', 'inline', 'running'], ['b', 'thread', 'running']]);
      for (const asker of ['a', 'b']) {
        const viaActor = await sup.request<ActorInfo[]>(asker, { type: 'ask', to: SUPERVISOR, msg: { type: 'supervisor.actors' } }, 2000);
        assert.deepEqual(viaActor.map((x) => x.name), ['a', 'b']);
      }
      await assert.rejects(sup.request(SUPERVISOR, { type: 'supervisor.nope' }, 2000), { name: 'UnknownRequestError' });
    } finally {
      await sup.stop();
    }
  });

  it('kills and restarts an actor on request to $supervisor, from an actor on either host', async () => {
    const sup = testSupervisor([counter('a', 'inline'), counter('b', 'thread'), counter('t', 'inline', { restart: 'temporary' })]);
    await sup.start();
    try {
      const restarted = once<{ name: string }>(sup, 'restarted');
      const killed = await sup.request<KillReply>('a', { type: 'ask', to: SUPERVISOR, msg: { type: 'supervisor.kill', name: 'b', mode: 'terminate' } }, 5000);
      assert.deepEqual(killed, { name: 'b', placement: 'thread', mode: 'terminate' });
      assert.equal((await restarted).name, 'b');

      bump(sup, 'a');
      assert.equal(await get(sup, 'a'), 1);
      const info = await sup.request<ActorInfo>('b', { type: 'ask', to: SUPERVISOR, msg: { type: 'supervisor.restart', name: 'a' } }, 5000);
      assert.deepEqual(info, { name: 'a', placement: 'inline', restart: 'permanent', status: 'running', state: 'running', restarts: 1, crashes: 0 });
      assert.equal(await get(sup, 'a'), 0, 'a fresh incarnation');

      // An inline actor has no thread to terminate: it dies by an exception whatever was asked.
      const inline = await sup.request<KillReply>(SUPERVISOR, { type: 'supervisor.kill', name: 't', mode: 'terminate' }, 5000);
      assert.deepEqual(inline, { name: 't', placement: 'inline', mode: 'throw' });
      await assert.rejects(sup.request(SUPERVISOR, { type: 'supervisor.kill', name: 't' }, 2000), { name: 'ActorDownError' });
      await assert.rejects(sup.request(SUPERVISOR, { type: 'supervisor.restart', name: 'nope' }, 2000), { name: 'UnknownActorError' });
      await assert.rejects(sup.request(SUPERVISOR, { type: 'supervisor.kill', name: 'nope' }, 2000), { name: 'UnknownActorError' });
      assert.deepEqual(sup.actors().map((x) => [x.name, x.status, x.restarts, x.crashes]), [['a', 'running', 1, 0], ['b', 'running', 1, 1], ['t', 'stopped', 0, 1]]);
    } finally {
      await sup.stop();
    }
  });
  it('adds a child to the running tree and removes it, on either host, by request to $supervisor', async () => {
    const sup = testSupervisor([counter('a', 'inline')]);
    await sup.start();
    try {
      for (const placement of ['inline', 'thread'] as const) {
        const name = `late-${placement}`;
        const info = await sup.request<ActorInfo>('a', { type: 'ask', to: SUPERVISOR, msg: { type: 'supervisor.add', spec: counter(name, placement) }, timeout_ms: 9_000 }, 10_000);
        assert.deepEqual([info.name, info.placement, info.status], [name, placement, 'running']);
        bump(sup, name);
        assert.equal(await get(sup, name), 1, 'the added child answers through the router');
        assert.ok((await sup.request<{ seen: string[] }>('a', { type: 'get' }, 2000)).seen.includes(`up:${name}`), 'the others are told it is up');
        await assert.rejects(sup.add(counter(name, 'inline')), { name: 'DuplicateActorError' });
        // A crash of an added child is supervised like any other: it restarts.
        const restarted = once<{ name: string }>(sup, 'restarted');
        sup.send(name, { type: 'bug' });
        assert.equal((await restarted).name, name);
        await sup.request(SUPERVISOR, { type: 'supervisor.remove', name }, 10_000);
        assert.deepEqual(sup.actors().map((x) => x.name), ['a']);
        await assert.rejects(sup.request(name, { type: 'get' }, 2000), { name: 'UnknownActorError' });
      }
      // A child that cannot start leaves no trace, and its name can be used again.
      await assert.rejects(sup.add(counter('bad', 'inline', { args: { failStart: true } })), { name: 'ActorStartError' });
      assert.deepEqual(sup.actors().map((x) => x.name), ['a']);
      await sup.add(counter('bad', 'inline'));
      await assert.rejects(sup.remove('nope'), { name: 'UnknownActorError' });
    } finally {
      await sup.stop();
    }
    assert.deepEqual(sup.actors().map((x) => [x.name, x.status]), [['a', 'stopped'], ['bad', 'stopped']], 'stop reaches added children');
  });

  it('restarts a child with the arguments last given by update_args', async () => {
    const sup = testSupervisor([counter('a', 'inline')]);
    await sup.start();
    try {
      await sup.request(SUPERVISOR, { type: 'supervisor.update_args', name: 'a', args: { failStart: true } }, 2000);
      bump(sup, 'a');
      assert.equal(await get(sup, 'a'), 1, 'the running incarnation is not touched');
      await assert.rejects(sup.restart('a'), { name: 'ActorStartError' }, 'the next start sees the new arguments');
      await assert.rejects(sup.request(SUPERVISOR, { type: 'supervisor.update_args', name: 'nope', args: {} }, 2000), { name: 'UnknownActorError' });
    } finally {
      await sup.stop();
    }
  });
});
