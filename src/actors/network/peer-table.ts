// What this node knows of the others: each peer's latest manifest and when it was last heard.
// A peer silent for longer than the timeout is expired. Pure: the caller supplies the time.
import type { Manifest } from '../../protocol/index.ts';

export interface PeerEntry {
  peerId: string;
  manifest?: Manifest;
  /** Protocol version negotiated from the peer's announced versions. */
  version?: string;
  lastSeen: number;
  firstSeen: number;
  /** The peer's newest signed announce as received (relayed verbatim by manifest sync). */
  announce?: { ts: number; bytes: Uint8Array };
}

export class PeerTable {
  private readonly peers = new Map<string, PeerEntry>();
  constructor(private readonly timeoutMs: number) {}

  /** Any valid message from a peer proves it alive. */
  heard(peerId: string, now: number): PeerEntry {
    let e = this.peers.get(peerId);
    if (!e) { e = { peerId, lastSeen: now, firstSeen: now }; this.peers.set(peerId, e); }
    e.lastSeen = Math.max(e.lastSeen, now);
    return e;
  }

  /** Records an announce unless an newer one is already held; returns whether it was newer. */
  announce(peerId: string, manifest: Manifest, version: string | undefined, now: number, signed?: { ts: number; bytes: Uint8Array }): boolean {
    const e = this.heard(peerId, now);
    if (signed && e.announce && e.announce.ts >= signed.ts) return false;
    e.manifest = manifest;
    e.version = version;
    if (signed) e.announce = signed;
    return true;
  }

  /** peerId → ts of the newest announce held, for a sync request. */
  announceTimes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.peers.values()) if (e.announce) out[e.peerId] = e.announce.ts;
    return out;
  }

  /** Removes and returns the peers not heard within the timeout. */
  expire(now: number): PeerEntry[] {
    const gone: PeerEntry[] = [];
    for (const [id, e] of this.peers) {
      if (now - e.lastSeen > this.timeoutMs) { this.peers.delete(id); gone.push(e); }
    }
    return gone;
  }

  get(peerId: string): PeerEntry | undefined { return this.peers.get(peerId); }
  get size(): number { return this.peers.size; }
  entries(): PeerEntry[] { return [...this.peers.values()]; }
}
