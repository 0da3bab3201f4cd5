// Typed messages between actors (src/runtime/protocol.ts). At run time: a request, a reply, an
// emitted event and a typed reply go through real supervisors on both hosts. At type level: the
// `@ts-expect-error` lines below are checked by `tsc --noEmit` (npm test runs it first, over
// test/ too): each must be an error, or tsc fails with "Unused '@ts-expect-error' directive".
// So a message another actor does not accept, a misspelt or missing field, a wrong actor, or a
// reply read as the wrong type, fails the build.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { testSupervisor } from '../helpers/runtime.ts';
import type { ActorContext, Placement } from '../../src/runtime/actor.ts';
import type { ChildSpec } from '../../src/runtime/supervisor.ts';
import { SUPERVISOR, type ActorInfo } from '../../src/runtime/supervisor.ts';
import type { SchedulerProtocol, SchedulerStatus, JobResult } from '../../src/actors/scheduler/messages.ts';
import type { GenerateResult } from '../../src/actors/inference/messages.ts';
import type { NetworkStatus } from '../../src/actors/network/messages.ts';
import type { StoredJob, Page } from '../../src/actors/store/messages.ts';
import type { TypedProtocol } from '../fixtures/typed-actor.ts';

const typedModule = fileURLToPath(new URL('../fixtures/typed-actor.ts', import.meta.url));
const typed = (name: string, placement: Placement): ChildSpec => ({ name, module: typedModule, restart: 'permanent', shutdownMs: 2000, placement });

for (const placement of ['inline', 'thread'] as Placement[]) {
  describe(`typed actor protocols: ${placement}`, () => {
    it('answers, relays through a typed request, and emits to a given address', async () => {
      const sup = testSupervisor([typed('typed:a', placement), typed('typed:b', placement === 'inline' ? 'thread' : 'inline')]);
      await sup.start();
      try {
        assert.deepEqual(await sup.request('typed:a', { type: 'typed.add', a: 2, b: 3 }, 2000), { sum: 5 });
        assert.deepEqual(await sup.request('typed:a', { type: 'typed.relay', peer: 'typed:b', a: 4, b: 5 }, 4000), { doubled: 18 });
        assert.equal(await sup.request('typed:a', { type: 'typed.emit', to: 'typed:b', count: 3 }, 2000), null);
        // Events from one sender arrive in order, after the reply was posted: poll for the three.
        let ticks: unknown = [];
        for (let i = 0; i < 50 && (ticks as number[]).length < 3; i++) {
          ticks = await sup.request('typed:b', { type: 'typed.ticks' }, 2000);
          if ((ticks as number[]).length < 3) await new Promise((r) => setTimeout(r, 20));
        }
        assert.deepEqual(ticks, [0, 1, 2]);
      } finally {
        await sup.stop();
      }
    });
  });
}

/**
 * Never called: it exists for tsc. Each `@ts-expect-error` marks a line that must not compile.
 */
export async function typeLevelChecks(ctx: ActorContext, self: ActorContext<unknown, SchedulerProtocol>): Promise<void> {
  // --- what compiles, with the reply's type inferred from the request ---
  const status: SchedulerStatus = await ctx.request('scheduler', { type: 'scheduler.status' }, 1000);
  const generated: GenerateResult = await ctx.request('inference:tiny', { type: 'inference.generate', job_id: 'j', prompt: 'p', max_tokens: 1, temperature: 0 }, 1000);
  const net: NetworkStatus = await ctx.request('network', { type: 'network.status' }, 1000);
  const jobs: Page<StoredJob> = await ctx.request('store', { type: 'store.jobs', limit: 10 }, 1000);
  const actors: ActorInfo[] = await ctx.request(SUPERVISOR, { type: 'supervisor.actors' }, 1000);
  ctx.send('inference:tiny', { type: 'inference.cancel', job_id: 'j' });
  ctx.send('network', { type: 'store.writable', writable: true });
  void [status, generated, net, jobs, actors];

  // --- a message the receiver does not accept ---
  // @ts-expect-error: no such request
  await ctx.request('scheduler', { type: 'scheduler.nope' }, 1000);
  // @ts-expect-error: a scheduler request sent to the store
  await ctx.request('store', { type: 'scheduler.status' }, 1000);
  // @ts-expect-error: no actor has this address
  await ctx.request('nobody', { type: 'scheduler.status' }, 1000);
  // @ts-expect-error: a request the scheduler answers, but not an event it takes one-way
  ctx.send('scheduler', { type: 'scheduler.status' });

  // --- a message with a missing, mistyped or misspelt field ---
  // @ts-expect-error: retire_model needs `name`
  await ctx.request('scheduler', { type: 'scheduler.retire_model' }, 1000);
  // @ts-expect-error: `name` is a string
  await ctx.request('scheduler', { type: 'scheduler.retire_model', name: 3 }, 1000);
  // @ts-expect-error: `nmae` is not a field of retire_model
  await ctx.request('scheduler', { type: 'scheduler.retire_model', name: 'm', nmae: 'm' }, 1000);
  // @ts-expect-error: cancel needs `job_id`
  ctx.send('inference:tiny', { type: 'inference.cancel' });

  // --- a reply read as the wrong type ---
  // @ts-expect-error: scheduler.status answers SchedulerStatus, not JobResult
  const wrong: JobResult = await ctx.request('scheduler', { type: 'scheduler.status' }, 1000);
  // @ts-expect-error: network.peers answers PeerSummary[], which has no `depth`
  (await ctx.request('network', { type: 'network.peers' }, 1000)).depth;
  void wrong;

  // --- an actor's own answers and emitted events, typed by its own protocol ---
  const ask = {} as { type: 'scheduler.status'; replyTo: string; from: string };
  self.answer(ask, status);
  // @ts-expect-error: scheduler.status is answered with SchedulerStatus
  self.answer(ask, { sum: 1 });
  const typedSelf = {} as ActorContext<undefined, TypedProtocol>;
  typedSelf.emit('anyone', { type: 'typed.tick', n: 1 });
  // @ts-expect-error: this actor does not emit that event
  typedSelf.emit('anyone', { type: 'inference.token', job_id: 'j', index: 0, text: '' });
}
