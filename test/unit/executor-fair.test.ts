// Fair admission in the executor (overload): while other clients wait for room, a client
// holds at most an equal share of the queue. JobExecutor alone, on a manual clock, with the
// scheduler's answers scripted (no model, no network: onOffer only decides what to claim).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { JobExecutor } from '../../src/market/executor.ts';
import { buildWorkOffer, sealEnvelope, sha256Hex, type Envelope, type JobClaimBody } from '../../src/protocol/index.ts';
import { createLogger } from '../../src/runtime/log.ts';
import type { Clock } from '../../src/runtime/clock.ts';

const MODEL = { name: 'tiny', sha256: 'a'.repeat(64), params: 1000, quantization: 'Q4_0', context_length: 256, test_model: true };
const CAPACITY = 4;

describe('JobExecutor: fair admission', () => {
  it('lets a client that filled the queue take only its share once another client waits', async () => {
    let now = 1_780_000_000_000;
    const clock: Clock = { now: () => now, setTimeout: () => ({}), clearTimeout: () => {}, setInterval: () => ({}), clearInterval: () => {} };
    const claimed: string[] = [];
    const key = await generateKeyPair('Ed25519');
    const executor = new JobExecutor({
      rng: () => 0, // always claim: these tests are about admission, not the claim draw
      peerId: peerIdFromPrivateKey(key).toString(), privateKey: key, models: [MODEL as never], clock,
      log: createLogger({ level: 'error', nodeId: 'exec', pretty: false }),
      publish: async (_t, _type, body) => { claimed.push((body as JobClaimBody).job_id); },
      publishSealed: async () => undefined,
      storeReceipt: async () => undefined,
      canClaim: async () => ({ ok: true }),
      // Nothing queued: the places are held by claims whose jobs have not come (yet).
      queue: async () => ({ depth: 0, capacity: CAPACITY, slots: 1, busy_slots: 0 }),
      submit: async () => { throw new Error('no job is brought in this test'); },
      cancel: () => {},
    });
    const clients = await Promise.all([0, 1].map(async () => {
      const k: PrivateKey = await generateKeyPair('Ed25519');
      return { key: k, id: peerIdFromPrivateKey(k).toString() };
    }));
    let n = 0;
    const offer = async (c: { key: PrivateKey; id: string }): Promise<Envelope<'work_offer'>> => {
      const body = buildWorkOffer({ client: c.id, model: 'tiny', prompt_sha256: sha256Hex('hi'), max_tokens: 8, temperature: 0, seed: ++n, priority: 'normal', requirements: {} });
      return sealEnvelope(c.key, c.id, 'work_offer', body, { now });
    };
    const [a, b] = clients as [typeof clients[0], typeof clients[0]];

    // Alone, a takes every place.
    const first = await Promise.all(Array.from({ length: CAPACITY }, () => offer(a)));
    for (const o of first) await executor.onOffer(o);
    assert.equal(claimed.length, CAPACITY);
    // b finds the queue full: it waits.
    const fromB = await Promise.all([offer(b), offer(b)]);
    for (const o of fromB) await executor.onOffer(o);
    assert.equal(claimed.length, CAPACITY);

    // b offers again (every 2 s, as a client does) and is still turned away; then a's claims lapse
    // (its jobs never came) and both offer again. With b waiting, a gets its share (2), b the rest.
    now += 2500;
    for (const o of fromB) await executor.onOffer(o);
    assert.equal(claimed.length, CAPACITY);
    now += 2500;
    const second = await Promise.all(Array.from({ length: CAPACITY }, () => offer(a)));
    for (const o of second) await executor.onOffer(o);
    for (const o of fromB) await executor.onOffer(o);
    const round2 = claimed.slice(CAPACITY);
    const byA = round2.filter((id) => second.some((o) => o.body.job_id === id)).length;
    const byB = round2.filter((id) => fromB.some((o) => o.body.job_id === id)).length;
    assert.deepEqual([byA, byB], [CAPACITY / 2, 2], 'a holds half the queue while b waits, and b gets the other half');

    // Once nobody else waits, a may take what is free again.
    now += 5000;
    const third = await Promise.all(Array.from({ length: CAPACITY }, () => offer(a)));
    for (const o of third) await executor.onOffer(o);
    assert.equal(claimed.filter((id) => third.some((o) => o.body.job_id === id)).length, CAPACITY);
  });
});
