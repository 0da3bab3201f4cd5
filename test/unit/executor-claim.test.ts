// A claim costs the executor one scheduler request: the can_claim verdict carries the queue,
// and the claim says whether the job can start at once (a free slot), which is what lets the
// client take it without waiting for other claims. JobExecutor alone, the scheduler's answers
// scripted (no model, no network: onOffer only decides what to claim).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { JobExecutor, type ExecutorDeps } from '../../src/market/executor.ts';
import { buildWorkOffer, sealEnvelope, sha256Hex, type JobClaimBody } from '../../src/protocol/index.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import type { CanClaimReply } from '../../src/actors/scheduler/messages.ts';

const MODEL = { name: 'tiny', sha256: 'a'.repeat(64), params: 1000, quantization: 'Q4_0', context_length: 256, test_model: true };

async function setup(verdict: CanClaimReply, queue: ExecutorDeps['queue']) {
  const key = await generateKeyPair('Ed25519');
  const claims: JobClaimBody[] = [];
  const asked = { canClaim: 0 };
  const executor = new JobExecutor({
    peerId: peerIdFromPrivateKey(key).toString(), privateKey: key, models: [MODEL as never], clock: systemClock,
    log: createLogger({ level: 'error', nodeId: 'exec', pretty: false }),
    publish: async (_t, _type, body) => { claims.push(body as JobClaimBody); },
    publishSealed: async () => undefined,
    storeReceipt: async () => undefined,
    canClaim: async () => { asked.canClaim++; return verdict; },
    queue,
    submit: async () => { throw new Error('no job is brought in this test'); },
    cancel: () => {},
    rng: () => 0, // always claim: these tests are about the claim's contents, not the claim draw
  });
  const client = await generateKeyPair('Ed25519');
  const id = peerIdFromPrivateKey(client).toString();
  let n = 0;
  const offer = async () => sealEnvelope(client, id, 'work_offer', buildWorkOffer({
    client: id, model: 'tiny', prompt_sha256: sha256Hex('hi'), max_tokens: 8, temperature: 0, seed: ++n, priority: 'normal', requirements: {},
  }), { now: Date.now() });
  return { executor, claims, asked, offer };
}

describe('JobExecutor: claims', () => {
  it('claims with the queue the verdict carries, asking the scheduler once', async () => {
    const { executor, claims, asked, offer } = await setup(
      { ok: true, queue: { depth: 0, capacity: 8, slots: 2, busy_slots: 1 } },
      async () => { throw new Error('a second scheduler request for the queue'); },
    );
    await executor.onOffer(await offer());
    assert.equal(asked.canClaim, 1);
    assert.equal(claims.length, 1);
    assert.deepEqual([claims[0]!.capacity, claims[0]!.est_start_ms, claims[0]!.queue_depth], [1, 0, 0], 'a free slot: it starts at once');
    // The first claim holds the free slot: the next offer's claim cannot start at once.
    await executor.onOffer(await offer());
    assert.deepEqual([claims[1]!.capacity, claims[1]!.est_start_ms > 0], [0, true]);
  });

  it('still asks for the queue when the verdict has none (an older scheduler)', async () => {
    let queued = 0;
    const { executor, claims, offer } = await setup({ ok: true }, async () => { queued++; return { depth: 3, capacity: 8, slots: 2, busy_slots: 2 }; });
    await executor.onOffer(await offer());
    assert.equal(queued, 1);
    assert.deepEqual([claims[0]!.capacity, claims[0]!.queue_depth], [0, 3]);
  });

  it('claims nothing the scheduler refuses', async () => {
    const { executor, claims, offer } = await setup({ ok: false, reason: 'queue full', queue: { depth: 8, capacity: 8, slots: 2, busy_slots: 2 } }, async () => undefined);
    await executor.onOffer(await offer());
    assert.equal(claims.length, 0);
  });
});
