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
import type { PeerId } from '@libp2p/interface';
import { LRUCache } from 'lru-cache';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { passthroughMapper, type KadDHT, type KadDHTInit } from '@libp2p/kad-dht';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { DRAIN_REASON, encodeEnvelope, verifyReceipt, type ReceiptEnvelope } from '../../protocol/index.ts';
import { Timers, type Startable } from './lifecycle.ts';

export const DHT_PROTOCOL = '/mvp/kad/1.0.0';
export const RECEIPT_NAMESPACE = 'mvp-receipt';
/** A receipt envelope is well under this; a record over it is refused unread. */
export const MAX_RECEIPT_RECORD_BYTES = 64 * 1024;
/** sha2-256's multihash code; raw's multicodec code. */
const SHA2_256 = 0x12;
const RAW = 0x55;

export const receiptKey = (jobId: string): Uint8Array => new TextEncoder().encode(`/${RECEIPT_NAMESPACE}/${jobId}`);

/** The CID under which the providers of the model file with this sha256 (hex) are found. */
export function modelCid(sha256: string): CID {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new TypeError(`not a sha256 in hex: ${sha256}`);
  return CID.createV1(RAW, Digest.create(SHA2_256, Uint8Array.from(Buffer.from(sha256, 'hex'))));
}

/** Why a receipt record was refused. */
export const RECORD_REFUSALS = Object.freeze(['oversize', 'malformed', 'wrong_key', 'format', 'signature', 'executor', 'unassigned'] as const);
export type RecordRefusal = (typeof RECORD_REFUSALS)[number];

export class ReceiptRecordError extends Error {
  override name = 'ReceiptRecordError';
  constructor(readonly reason: RecordRefusal, detail: string) { super(`receipt record refused (${reason}): ${detail}`); }
}

/**
 * Checks a receipt record: the value must be a receipt envelope signed by its executor (the
 * offline check of protocol/receipt.ts), for the job id its key names; and when this node saw the
 * job assigned (`assignedExecutor`), to that executor. Throws ReceiptRecordError.
 */
export async function checkReceiptRecord(
  key: Uint8Array, value: Uint8Array, assignedExecutor: (jobId: string) => string | undefined = () => undefined,
): Promise<ReceiptEnvelope> {
  if (value.byteLength > MAX_RECEIPT_RECORD_BYTES) throw new ReceiptRecordError('oversize', `${value.byteLength} bytes`);
  let json: unknown;
  try { json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(value)); } catch (err) {
    throw new ReceiptRecordError('malformed', `not JSON: ${(err as Error).message}`);
  }
  const v = await verifyReceipt(json);
  if (!v.ok) throw new ReceiptRecordError(v.check === 'signature' ? 'signature' : v.check === 'executor' ? 'executor' : 'format', v.reason);
  const jobId = v.receipt.body.job_id;
  const keyText = new TextDecoder().decode(key);
  if (keyText !== `/${RECEIPT_NAMESPACE}/${jobId}`) throw new ReceiptRecordError('wrong_key', `key ${keyText.slice(0, 200)} holds the receipt of job ${jobId}`);
  const assigned = assignedExecutor(jobId);
  if (assigned !== undefined && assigned !== v.receipt.body.executor) {
    throw new ReceiptRecordError('unassigned', `job ${jobId} was assigned to ${assigned}, the receipt is by ${v.receipt.body.executor}`);
  }
  return v.receipt;
}

/**
 * Picks the best of several records for one key (all validated already): the receipt of the
 * job's end beats a draining executor's hand-back (its re-run's receipt replaces it, as in the
 * receipt book); among equals, the first signed.
 */
export function selectReceipt(_key: Uint8Array, records: Uint8Array[]): number {
  let best = 0;
  let bestRank: [number, number] = [Infinity, Infinity];
  records.forEach((r, i) => {
    let rank: [number, number] = [2, Infinity];
    try {
      const env = JSON.parse(new TextDecoder().decode(r)) as ReceiptEnvelope;
      rank = [env.body.status === 'failed' && env.body.reason === DRAIN_REASON ? 1 : 0, env.ts];
    } catch { /* unreadable: last */ }
    if (rank[0] < bestRank[0] || (rank[0] === bestRank[0] && rank[1] < bestRank[1])) { best = i; bestRank = rank; }
  });
  return best;
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

/** Where a receipt asked for by job id was found. */
export type ReceiptSource = 'replica' | 'dht';

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
  async putReceipt(receipt: ReceiptEnvelope): Promise<number> {
    const value = encodeEnvelope(receipt);
    this.own.set(receipt.body.job_id, { value, at: this.deps.clock.now() });
    return this.put(receipt.body.job_id, value);
  }

  private async put(jobId: string, value: Uint8Array): Promise<number> {
    let stored = 0;
    try {
      for await (const e of this.deps.dht().put(receiptKey(jobId), value, { signal: AbortSignal.timeout(PUT_TIMEOUT_MS) })) {
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
   * A job's receipt by id: this node's own replica first, then a DHT lookup (which also
   * corrects the replicas that hold an outdated or no record). Undefined when none is found in
   * time. Records are validated by the DHT before they get here.
   */
  async getReceipt(jobId: string, timeoutMs: number): Promise<{ receipt: ReceiptEnvelope; source: ReceiptSource } | undefined> {
    const local = await this.localReceipt(jobId);
    if (local) return { receipt: local, source: 'replica' };
    this.counters.receipt_lookups++;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      for await (const e of this.deps.dht().get(receiptKey(jobId), { signal })) {
        if (e.name === 'VALUE') {
          this.counters.receipt_lookups_found++;
          return { receipt: JSON.parse(new TextDecoder().decode(e.value)) as ReceiptEnvelope, source: 'dht' };
        }
      }
    } catch (err) {
      this.deps.log.debug({ job_id: jobId, err: (err as Error).message }, 'Receipt lookup found nothing');
    }
    return undefined;
  }

  /**
   * The record this node holds as a replica, if any. kad-dht's lookup yields the local record
   * (validated) before it asks anyone: the lookup is dropped right after that first event.
   */
  async localReceipt(jobId: string): Promise<ReceiptEnvelope | undefined> {
    const abort = new AbortController();
    try {
      for await (const e of this.deps.dht().get(receiptKey(jobId), { signal: abort.signal })) {
        if (e.name === 'VALUE' && e.from.toString() === this.deps.selfId()) return JSON.parse(new TextDecoder().decode(e.value)) as ReceiptEnvelope;
        break;
      }
    } catch { /* none */ } finally { abort.abort(); }
    return undefined;
  }

  /** Announces in the DHT that this node serves the model file with this sha256 (kad-dht re-provides it). */
  provide(sha256: string): void {
    if (this.provided.has(sha256)) return;
    this.provided.add(sha256);
    void (async () => {
      try {
        await this.deps.dht().provide(modelCid(sha256), { signal: AbortSignal.timeout(120_000) });
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
      for await (const p of this.deps.dht().findProviders(modelCid(sha256), { signal: AbortSignal.timeout(timeoutMs) })) {
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
