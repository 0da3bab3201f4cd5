// Manifest sync as a part of the network (the wire is sync.ts): both ends of a new connection
// exchange what the other lacks, and each node keeps syncing with one random neighbour
// (anti-entropy), so a newcomer's announce reaches everyone in O(log N) rounds without a
// network-wide publish. Receipts do not ride along any more (they live in the swarm's DHT, see
// dht.ts): this node asks for none, and still answers a peer that asks.
import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Clock, Timer } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { encodeEnvelope } from '../../protocol/index.ts';
import type { ReceiptEnvelope } from '../../market/receipts.ts';
import { SYNC_MAX_ENTRIES, SYNC_PROTOCOL, parseRequest, parseResponse, readJson, writeJson } from './sync.ts';
import type { PeerTable } from './peer-table.ts';
import type { NetworkTransport, ProtocolHandler } from './transport.ts';
import type { Verdict, Via } from './gossip.ts';
import { Timers, type Startable } from './lifecycle.ts';

/**
 * Anti-entropy pace: a node syncs with one random neighbour, halving its wait (down to
 * SYNC_MIN_MS) after a sync that brought news and doubling it (up to SYNC_MAX_MS) after one that
 * did not. A quiet network costs little, and a busy one (every join is news to every node) does
 * not make every node sync as fast as it can: the whole network's sync rate stays ≤ N / 2 s.
 */
const SYNC_MIN_MS = 2000;
const SYNC_MAX_MS = 30_000;

/** `from` and `ts` of an announce's text, read without checking anything (that comes later). */
function peekAnnounce(text: string): { from: string; ts: number } | undefined {
  try {
    const v = JSON.parse(text) as { type?: unknown; from?: unknown; ts?: unknown };
    return v.type === 'announce' && typeof v.from === 'string' && typeof v.ts === 'number' ? { from: v.from, ts: v.ts } : undefined;
  } catch { return undefined; }
}

export interface SyncDeps {
  clock: Clock;
  log: Logger;
  transport: NetworkTransport;
  peerTable: PeerTable;
  /** This node's own latest announce, with the change number it took. */
  ownAnnounce(): { seq: number; bytes: Uint8Array } | undefined;
  /** Receipts stored after change `since` (the marketplace's receipt book). */
  receiptsSince(since: number): Array<{ seq: number; receipt: ReceiptEnvelope }>;
  receiptCount(): number;
  /** The one path every envelope from outside takes (gossip.ts). */
  accept(data: Uint8Array, via: Via): Promise<Verdict>;
}

export class ManifestSync implements Startable {
  private readonly timers: Timers;
  /** Per peer: its change number at our last sync with it. */
  private readonly syncedUpTo = new Map<string, number>();
  private delay = SYNC_MIN_MS;
  /** The next anti-entropy sync (a timeout: its delay adapts). */
  private next?: Timer;

  constructor(private readonly deps: SyncDeps) {
    this.timers = new Timers(deps.clock, deps.log);
  }

  /** The stream protocol it answers (registered by the transport). */
  readonly handler: ProtocolHandler = { protocol: SYNC_PROTOCOL, handle: (stream) => this.answer(stream) };

  start(): void {
    this.deps.transport.libp2p.addEventListener('peer:identify', (e) => {
      if (!e.detail.protocols.includes(SYNC_PROTOCOL)) return;
      void this.request(e.detail.peerId.toString());
    });
    this.schedule();
  }

  stop(): void { this.timers.stop(); }

  /** An expired peer starts from scratch at the next sync with it. */
  forget(peer: string): void { this.syncedUpTo.delete(peer); }

  /**
   * Answer a sync request with the announces stored since its change number (ours included),
   * and the receipts when asked.
   */
  private async answer(stream: Stream): Promise<void> {
    try {
      const { since, receipts } = parseRequest(await readJson(stream, 64 * 1024));
      const text = new TextDecoder();
      const changed: Array<{ seq: number; announce?: string; receipt?: string }> = this.deps.peerTable.announcesSince(since).map((a) => ({ seq: a.seq, announce: text.decode(a.bytes) }));
      const mine = this.deps.ownAnnounce();
      if (mine && mine.seq > since) changed.push({ seq: mine.seq, announce: text.decode(mine.bytes) });
      if (receipts) for (const r of this.deps.receiptsSince(since)) changed.push({ seq: r.seq, receipt: text.decode(encodeEnvelope(r.receipt)) });
      changed.sort((a, b) => a.seq - b.seq);
      // Capped: the requester continues from the last change it got, at its next sync.
      const sent = changed.slice(0, SYNC_MAX_ENTRIES);
      const seq = sent.length < changed.length ? sent.at(-1)!.seq : this.deps.peerTable.changeNumber;
      await writeJson(stream, {
        seq, announces: sent.flatMap((c) => c.announce ?? []),
        ...(receipts ? { receipts: sent.flatMap((c) => c.receipt ?? []) } : {}),
      });
    } catch (err) {
      this.deps.log.debug({ err: (err as Error).message }, 'Sync request refused');
      stream.abort(err as Error);
    }
  }

  private schedule(): void {
    if (this.timers.stopped) return;
    if (this.next) this.timers.cancel(this.next);
    this.next = this.timers.after(this.delay * (0.5 + Math.random()), () => {
      const peers = [...this.deps.transport.connectedPeers()];
      const sync = peers.length > 0 ? this.request(peers[Math.floor(Math.random() * peers.length)]!) : Promise.resolve(0);
      void sync.then((learned) => {
        this.delay = learned > 0 ? Math.max(SYNC_MIN_MS, this.delay / 2) : Math.min(SYNC_MAX_MS, this.delay * 2);
        this.schedule();
      });
    });
  }

  /** Syncs with one peer now (a DHT provider of a model, say); resolves to whether the exchange went through. */
  async syncWith(peerId: string): Promise<boolean> { return (await this.request(peerId)) >= 0; }

  /** Ask a peer for the announces it stored since our last sync with it; resolves to how many were new (-1: failed). */
  private async request(peerId: string): Promise<number> {
    if (this.timers.stopped) return -1;
    const { peerTable } = this.deps;
    try {
      const self = this.deps.transport.peerId;
      const stream = await this.deps.transport.libp2p.dialProtocol(peerIdFromString(peerId), SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
      await writeJson(stream, { since: this.syncedUpTo.get(peerId) ?? 0, receipts: false });
      const { seq, announces, receipts } = parseResponse(await readJson(stream));
      let learned = 0;
      for (const text of announces) {
        // Skip what we hold already without the cost of a signature check; the rest is inspected.
        const head = peekAnnounce(text);
        if (head && (head.from === self || peerTable.hasAnnounce(head.from, head.ts))) continue;
        if (await this.deps.accept(new TextEncoder().encode(text), 'sync') === 'accepted') learned++;
      }
      for (const text of receipts) {
        const before = this.deps.receiptCount();
        if (await this.deps.accept(new TextEncoder().encode(text), 'sync:receipt') === 'accepted' && this.deps.receiptCount() > before) learned++;
      }
      this.syncedUpTo.set(peerId, seq);
      this.deps.log.debug({ peer: peerId, received: announces.length, learned }, 'Manifest sync');
      return learned;
    } catch (err) {
      if (!this.timers.stopped) this.deps.log.debug({ peer: peerId, err: (err as Error).message }, 'Manifest sync failed');
      return -1;
    }
  }
}
