// The deadlines ReceiptDht gives kad-dht: a put, a lookup or a provider search asks up to k
// peers (20 by default) at once, and each request adds a listener to the caller's signal.
// Node warns of a listener leak past 10, and `simulate` counts that warning as a violation.
// kad-dht is stood in for by one that fans out the same way, to isolate ReceiptDht from a
// 20-node swarm (the swarm itself is in network-dht.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KadDHT } from '@libp2p/kad-dht';
import { ReceiptDht } from '../../src/actors/network/dht.ts';
import { sealReceipt } from '../../src/protocol/index.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { newPeer, receiptBy } from '../helpers/jobs.ts';

const K = 20;

/** What kad-dht does with a caller's signal: one abort listener per peer asked, all at once. */
async function* fanOut(options: { signal?: AbortSignal }): AsyncGenerator<never> {
  const listeners = Array.from({ length: K }, () => () => {});
  for (const l of listeners) options.signal!.addEventListener('abort', l);
  await new Promise((r) => setImmediate(r));
  for (const l of listeners) options.signal!.removeEventListener('abort', l);
}

describe('ReceiptDht deadlines', () => {
  it('a put, a lookup and a provider search each fan out to k peers without a listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => { warnings.push(`${w.name}: ${w.message}`); };
    process.on('warning', onWarning);
    try {
      const dht = {
        put: (_k: unknown, _v: unknown, o: { signal?: AbortSignal }) => fanOut(o),
        get: (_k: unknown, o: { signal?: AbortSignal }) => fanOut(o),
        findProviders: (_c: unknown, o: { signal?: AbortSignal }) => fanOut(o),
        provide: (_c: unknown, o: { signal?: AbortSignal }) => fanOut(o),
      } as unknown as KadDHT;
      const r = new ReceiptDht({
        clock: systemClock, log: createLogger({ level: 'silent', nodeId: 'test', pretty: false }),
        dht: () => dht, selfId: () => 'self', onConnect: () => {},
      });
      const [executor, client] = [await newPeer(), await newPeer()];
      const receipt = await sealReceipt(executor.key, receiptBy(executor, client), Date.now());
      assert.equal(await r.putReceipt(receipt), 0, 'no peer took it (the stand-in answers nothing)');
      assert.equal(await r.getReceipt(receipt.body.job_id, 1000), undefined);
      assert.deepEqual(await r.findProviders('a'.repeat(64), 1000), []);
      await new Promise((res) => setImmediate(res)); // warnings are emitted on the next tick
      assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
