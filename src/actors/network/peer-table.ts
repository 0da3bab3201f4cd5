// What this node knows of the others: each peer's latest manifest and when it was last heard.
// A peer silent for more than half the timeout is suspect, for longer than the timeout expired.
// Pure: the caller supplies the time.
import type { Manifest } from '../../protocol/index.ts';

export type PeerState = 'alive' | 'suspect';

export interface PeerEntry {
  peerId: string;
  manifest?: Manifest;
  /** Protocol version negotiated from the peer's announced versions. */
  version?: string;
  lastSeen: number;
  firstSeen: number;
  /** Whether the last sweep found it suspect (so that it is reported once, not at every sweep). */
  suspect?: boolean;
  /**
   * The peer's newest signed announce as received (relayed verbatim by manifest sync), and the
   * table's change number when it arrived (sync sends what changed since a number).
   */
  announce?: { ts: number; bytes: Uint8Array; seq: number };
}

export class PeerTable {
  private readonly peers = new Map<string, PeerEntry>();
  private changes = 0;
  /** @param timeoutMs a peer not heard for longer is expired */
  constructor(readonly timeoutMs: number) {}

  /** Any valid message from a peer proves it alive. */
  heard(peerId: string, now: number): PeerEntry {
    let e = this.peers.get(peerId);
    if (!e) { e = { peerId, lastSeen: now, firstSeen: now }; this.peers.set(peerId, e); }
    e.lastSeen = Math.max(e.lastSeen, now);
    return e;
  }

  /** Records an announce unless a newer one is already held; returns whether it was newer. */
  announce(peerId: string, manifest: Manifest, version: string | undefined, now: number, signed?: { ts: number; bytes: Uint8Array }): boolean {
    const e = this.heard(peerId, now);
    if (signed && e.announce && e.announce.ts >= signed.ts) return false;
    e.manifest = manifest;
    e.version = version;
    if (signed) e.announce = { ...signed, seq: this.nextChange() };
    return true;
  }

  /** Whether an announce of this peer at least as new as `ts` is held. */
  hasAnnounce(peerId: string, ts: number): boolean {
    const a = this.peers.get(peerId)?.announce;
    return a !== undefined && a.ts >= ts;
  }

  /** The table's change counter: every newer announce stored takes the next number. */
  get changeNumber(): number { return this.changes; }
  nextChange(): number { return ++this.changes; }

  /** Announces stored after change `since`, oldest change first. */
  announcesSince(since: number): Array<{ seq: number; bytes: Uint8Array }> {
    const out: Array<{ seq: number; bytes: Uint8Array }> = [];
    for (const e of this.peers.values()) if (e.announce && e.announce.seq > since) out.push(e.announce);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** A peer not heard for longer than this is suspect: half the timeout. */
  get suspectMs(): number { return this.timeoutMs / 2; }

  state(e: PeerEntry, now: number): PeerState { return now - e.lastSeen > this.suspectMs ? 'suspect' : 'alive'; }

  /**
   * Moves each peer along alive → suspect → expired by how long it has been silent, and back to
   * alive when heard again. A peer always passes through suspect, for one sweep at least (one
   * first found silent past the timeout, e.g. after a stall, is expired at the next). Returns the
   * peers newly suspect, those heard again since they were suspected, and those expired (removed).
   */
  sweep(now: number): { suspected: PeerEntry[]; recovered: PeerEntry[]; expired: PeerEntry[] } {
    const out = { suspected: [] as PeerEntry[], recovered: [] as PeerEntry[], expired: [] as PeerEntry[] };
    for (const [id, e] of this.peers) {
      const silent = now - e.lastSeen;
      if (silent > this.timeoutMs && e.suspect) { this.peers.delete(id); out.expired.push(e); }
      else if (silent > this.suspectMs) { if (!e.suspect) { e.suspect = true; out.suspected.push(e); } }
      else if (e.suspect) { e.suspect = false; out.recovered.push(e); }
    }
    return out;
  }

  get(peerId: string): PeerEntry | undefined { return this.peers.get(peerId); }
  get size(): number { return this.peers.size; }
  entries(): PeerEntry[] { return [...this.peers.values()]; }
}
