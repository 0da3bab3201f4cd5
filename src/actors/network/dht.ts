// The swarm's Kademlia DHT (@libp2p/kad-dht) as a part of the network: where receipts and model
// providers are found without being gossiped to every node.
//
// - Protocol `/mvp/kad/1.0.0`, never the public `/ipfs/kad/1.0.0`: a node never joins (or
//   answers) a public DHT. Server mode from the start and every address kept (loopback and
//   memory ones included): kad-dht's defaults would leave a node on a LAN or in one process a
//   client that answers no query, and drop its private addresses from the routing table.
// - A receipt is the value record `/mvp-receipt/<job_id>` (the executor's signed receipt
//   envelope, bytes as signed). Its replicas are the k closest peers to that key, k =
//   `network.receipt_replicas` (also the DHT's bucket size). The validator below refuses any
//   record that is not a receipt signed by its executor for that very job id, or that names an
//   executor other than the one this node saw the job assigned to; each refusal is counted by
//   reason. The executor puts the record, and puts again whenever connectivity comes back (a
//   partition healed): the replicas it could not reach then are brought up to date. Any node
//   finds a receipt by job id with a DHT lookup.
// - Which nodes serve a model file is a provider record for a CID made from the file's sha256
//   (CIDv1, raw codec, the sha256 multihash): every node provides the files it serves, and a
//   pull looks providers up besides the manifests it holds.
import { setMaxListeners } from 'node:events';
import type { PeerId } from '@libp2p/interface';
import { LRUCache } from 'lru-cache';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { passthroughMapper, type KadDHT, type KadDHTInit } from '@libp2p/kad-dht';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { encodeEnvelope, type ReceiptEnvelope } from '../../protocol/index.ts';
import { Timers, type Startable } from './lifecycle.ts';
import { RECEIPT_NAMESPACE, receiptKey, selectReceipt, type RecordRefusal } from './receipt-record.ts';

export { RECEIPT_NAMESPACE, RECORD_REFUSALS, ReceiptRecordError, checkReceiptRecord, receiptKey, selectReceipt, type RecordRefusal } from './receipt-record.ts';

export const DHT_PROTOCOL = '/mvp/kad/1.0.0';
/** sha2-256's multihash code; raw's multicodec code. */
const SHA2_256 = 0x12;
const RAW = 0x55;

/** The CID under which the providers of the model file with this sha256 (hex) are found. */
export function modelCid(sha256: string): CID {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new TypeError(`not a sha256 in hex: ${sha256}`);
  return CID.createV1(RAW, Digest.create(SHA2_256, Uint8Array.from(Buffer.from(sha256, 'hex'))));
}

/**
 * A deadline for one DHT operation. kad-dht asks up to k peers at once, each request adding a
 * listener to the caller's signal (removed when it ends), past Node's leak warning at 10.
 */
function fanOut(ms: number): AbortSignal {
  const signal = AbortSignal.timeout(ms);
  setMaxListeners(Infinity, signal);
  return signal;
}

/** kad-dht's settings for this swarm (see the top of this file). */
export function dhtInit(k: number, validate: (key: Uint8Array, value: Uint8Array) => Promise<void>): KadDHTInit {
  return {
    protocol: DHT_PROTOCOL,
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    kBucketSize: k,
    validators: { [RECEIPT_NAMESPACE]: validate },
    selectors: { [RECEIPT_NAMESPACE]: selectReceipt },
    // Our own datastore keys and metric names: apart from any other DHT in the process.
    datastorePrefix: '/mvp-dht',
    metricsPrefix: 'mvp_kad_dht',
  };
}

export interface DhtCounters {
  /** Receipt records this node refused (a peer's put, or a lookup's answer), by reason. */
  records_refused: Partial<Record<RecordRefusal, number>>;
  receipts_put: number;
  /** Puts that reached no peer (kept here, put again when connectivity returns). */
  receipts_put_failed: number;
  receipt_lookups: number;
  receipt_lookups_found: number;
  provider_lookups: number;
  providers_found: number;
}

export interface ReceiptDhtDeps {
  clock: Clock;
  log: Logger;
  dht(): KadDHT;
  selfId(): string;
  /** Subscribes to connectivity changes (peer connected). */
  onConnect(cb: () => void): void;
}

/** Own receipts re-put when connectivity returns: the latest, for a day. */
const OWN_KEPT = 512;
const OWN_MAX_AGE_MS = 24 * 3600_000;
/** A republish waits this long after a connection, and runs at most this often. */
const REPUBLISH_DELAY_MS = 1000;
const REPUBLISH_MIN_GAP_MS = 5000;
const PUT_TIMEOUT_MS = 30_000;

export class ReceiptDht implements Startable {
  private readonly timers: Timers;
  readonly counters: DhtCounters = {
    records_refused: {}, receipts_put: 0, receipts_put_failed: 0, receipt_lookups: 0, receipt_lookups_found: 0, provider_lookups: 0, providers_found: 0,
  };
  /** Receipts this node signed (or is the client of), re-put when connectivity returns. */
  private readonly own = new LRUCache<string, { value: Uint8Array; at: number }>({ max: OWN_KEPT });
  private republishing = false;
  private republishQueued = false;
  private lastRepublish = -Infinity;
  private provided = new Set<string>();
  private readonly putting = new Set<Promise<number>>();

  constructor(private readonly deps: ReceiptDhtDeps) {
    this.timers = new Timers(deps.clock, deps.log);
  }

  /** Counts a refusal (the validator calls this). */
  refused(reason: RecordRefusal): void {
    this.counters.records_refused[reason] = (this.counters.records_refused[reason] ?? 0) + 1;
  }

  start(): void {
    this.deps.onConnect(() => this.scheduleRepublish());
  }

  stop(): void { this.timers.stop(); }

  /**
   * Puts a receipt record on its k closest peers; resolves to how many took it (0: none reachable
   * now; it is put again when connectivity returns).
   */
  putReceipt(receipt: ReceiptEnvelope): Promise<number> {
    const value = encodeEnvelope(receipt);
    this.own.set(receipt.body.job_id, { value, at: this.deps.clock.now() });
    const p = this.put(receipt.body.job_id, value);
    this.putting.add(p);
    void p.finally(() => this.putting.delete(p));
    return p;
  }

  /** Resolves once the puts under way are over (a drain's flush step). */
  async flush(): Promise<void> { await Promise.allSettled([...this.putting]); }

  private async put(jobId: string, value: Uint8Array): Promise<number> {
    let stored = 0;
    try {
      for await (const e of this.deps.dht().put(receiptKey(jobId), value, { signal: fanOut(PUT_TIMEOUT_MS) })) {
        if (e.name === 'PEER_RESPONSE' && e.messageName === 'PUT_VALUE') stored++;
      }
    } catch (err) {
      if (!this.timers.stopped) this.deps.log.debug({ job_id: jobId, err: (err as Error).message }, 'Receipt put ended early');
    }
    this.counters.receipts_put++;
    if (stored === 0) this.counters.receipts_put_failed++;
    this.deps.log.debug({ job_id: jobId, replicas: stored }, 'Receipt put in the DHT');
    return stored;
  }

  /**
   * A job's receipt by id, by a DHT lookup (this node's own record first, then the peers closest
   * to the key; the lookup also corrects the replicas that hold an outdated record or none).
   * Records are validated by the DHT before they get here. Undefined when none is found in time.
   */
  async getReceipt(jobId: string, timeoutMs: number): Promise<ReceiptEnvelope | undefined> {
    this.counters.receipt_lookups++;
    const signal = fanOut(timeoutMs);
    try {
      for await (const e of this.deps.dht().get(receiptKey(jobId), { signal })) {
        if (e.name === 'VALUE') {
          this.counters.receipt_lookups_found++;
          return JSON.parse(new TextDecoder().decode(e.value)) as ReceiptEnvelope;
        }
      }
    } catch (err) {
      this.deps.log.debug({ job_id: jobId, err: (err as Error).message }, 'Receipt lookup found nothing');
    }
    return undefined;
  }

  /** Announces in the DHT that this node serves the model file with this sha256 (kad-dht re-provides it). */
  provide(sha256: string): void {
    if (this.provided.has(sha256)) return;
    this.provided.add(sha256);
    void (async () => {
      try {
        // An event stream: nothing is sent until it is read.
        for await (const _ of this.deps.dht().provide(modelCid(sha256), { signal: fanOut(120_000) })) { /* drained */ }
        this.deps.log.debug({ sha256 }, 'Model provided in the DHT');
      } catch (err) {
        this.provided.delete(sha256);
        if (!this.timers.stopped) this.deps.log.debug({ sha256, err: (err as Error).message }, 'Model provide failed (tried again at the next change)');
      }
    })();
  }

  /** The peers that say (in the DHT) they serve the model file with this sha256, with their addresses. */
  async findProviders(sha256: string, timeoutMs: number, max = 20): Promise<Array<{ id: PeerId; multiaddrs: string[] }>> {
    this.counters.provider_lookups++;
    const out = new Map<string, { id: PeerId; multiaddrs: string[] }>();
    try {
      for await (const p of this.deps.dht().findProviders(modelCid(sha256), { signal: fanOut(timeoutMs) })) {
        if (p.name !== 'PROVIDER') continue;
        for (const info of p.providers) {
          const id = info.id.toString();
          if (id === this.deps.selfId() || out.has(id)) continue;
          out.set(id, { id: info.id, multiaddrs: info.multiaddrs.map(String) });
        }
        if (out.size >= max) break;
      }
    } catch (err) {
      this.deps.log.debug({ sha256, err: (err as Error).message }, 'Provider lookup ended early');
    }
    this.counters.providers_found += out.size;
    return [...out.values()];
  }

  /** Puts this node's recent receipts again, soon after a connection (at most every few seconds). */
  private scheduleRepublish(): void {
    if (this.timers.stopped || this.own.size === 0) return;
    if (this.republishing) { this.republishQueued = true; return; }
    if (this.republishQueued) return;
    this.republishQueued = true;
    const wait = Math.max(REPUBLISH_DELAY_MS, this.lastRepublish + REPUBLISH_MIN_GAP_MS - this.deps.clock.now());
    this.timers.after(wait, () => { void this.republish(); });
  }

  private async republish(): Promise<void> {
    this.republishQueued = false;
    this.republishing = true;
    this.lastRepublish = this.deps.clock.now();
    const now = this.deps.clock.now();
    try {
      for (const [jobId, r] of [...this.own.entries()]) {
        if (this.timers.stopped) return;
        if (now - r.at > OWN_MAX_AGE_MS) { this.own.delete(jobId); continue; }
        await this.put(jobId, r.value);
      }
    } finally {
      this.republishing = false;
      if (this.republishQueued) { this.republishQueued = false; this.scheduleRepublish(); }
    }
  }
}
