// What this node knows of the others: each peer's latest manifest and when it was last heard.
// Liveness is the shared table's (src/liveness/table.ts, the rule consensus uses too): a peer
// silent for more than half its timeout is suspect, for longer than its timeout expired — and
// then dropped here, manifest and all. A peer whose heartbeats reach this node is timed by the
// heartbeat timeout; any other — off this node's councils, with heartbeats scoped — is heard only
// by its announces (and pings), and timed by their pace. Which is which, the consensus actor
// says (setHears); until it has, every peer heartbeats here. A peer never gets the longer timeout
// for having fallen silent (see setHears). Pure: the caller supplies the time.
import type { Manifest } from '../../protocol/index.ts';
import { LivenessTable, type PeerLife } from '../../liveness/table.ts';

export type PeerState = 'alive' | 'suspect';

export class PeerEntry {
  manifest?: Manifest;
  /** Protocol version negotiated from the peer's announced versions. */
  version?: string;
  /**
   * The peer's newest signed announce as received (relayed verbatim by manifest sync), and the
   * table's change number when it arrived (sync sends what changed since a number).
   */
  announce?: { ts: number; bytes: Uint8Array; seq: number };

  constructor(readonly peerId: string, private readonly life: PeerLife) {}

  get lastSeen(): number { return this.life.lastHeard; }
  get firstSeen(): number { return this.life.firstHeard; }
  /** Whether the last sweep found it suspect. */
  get suspect(): boolean { return this.life.status !== 'alive'; }
}

export class PeerTable {
  private readonly peers = new Map<string, PeerEntry>();
  /** The liveness of the same peers; an expired peer leaves both at once. */
  readonly life: LivenessTable;
  /** Peers heard again since they were suspected, reported by the next sweep. */
  private readonly recovering = new Set<string>();
  private changes = 0;
  /** The peers whose heartbeats reach this node (undefined: every peer). */
  private hears?: ReadonlySet<string>;
  /** Peers that left the heard set already suspect: timed by the heartbeat timeout until heard again. */
  private readonly pinned = new Set<string>();
  /**
   * @param timeoutMs a peer whose heartbeats reach this node and that is not heard for longer is expired
   * @param paceMs the same for a peer heard only by its announces (at least timeoutMs)
   */
  constructor(readonly timeoutMs: number, readonly paceMs = timeoutMs) {
    this.paceMs = Math.max(timeoutMs, paceMs);
    this.life = new LivenessTable(timeoutMs, { forgetMs: timeoutMs, timeoutOf: (peer) => this.timeoutOf(peer) });
  }

  /**
   * Which peers' heartbeats reach this node, as the consensus actor knows it (undefined: every
   * peer). A peer leaving the set while silent past half the heartbeat timeout keeps that timeout
   * until heard again: it most likely stopped because it died, and an alive one moving off the
   * council was heard within a heartbeat period.
   */
  setHears(peers: ReadonlySet<string> | undefined, now: number): void {
    if (peers) {
      for (const [id, e] of this.peers) {
        if (this.timeoutOf(id) === this.timeoutMs && !peers.has(id) && now - e.lastSeen > this.timeoutMs / 2) this.pinned.add(id);
      }
    }
    this.hears = peers;
  }

  /** Whether a peer keeps the heartbeat timeout only because it fell silent while heard (see setHears). */
  isPinned(peerId: string): boolean { return this.pinned.has(peerId); }

  /** A peer's timeout: the heartbeat timeout if its heartbeats reach this node (or it fell silent while they did), else the announce pace. */
  timeoutOf(peerId: string): number {
    return !this.hears || this.hears.has(peerId) || this.pinned.has(peerId) ? this.timeoutMs : this.paceMs;
  }

  /** How long a connected peer may be quiet before it is pinged: a third of its timeout, or, heard by announces, past one missed announce. */
  quietMs(peerId: string): number {
    const t = this.timeoutOf(peerId);
    return t === this.timeoutMs ? t / 3 : t * 0.4;
  }

  /** Any valid message from a peer proves it alive. */
  heard(peerId: string, now: number): PeerEntry {
    const t = this.life.heard(peerId, now);
    if (t?.from === 'suspect') this.recovering.add(peerId);
    this.pinned.delete(peerId);
    let e = this.peers.get(peerId);
    if (!e) { e = new PeerEntry(peerId, this.life.get(peerId)!); this.peers.set(peerId, e); }
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

  state(e: PeerEntry, now: number): PeerState { return this.life.classify(now - e.lastSeen, this.timeoutOf(e.peerId)) === 'alive' ? 'alive' : 'suspect'; }

  /**
   * Moves each peer along alive → suspect → expired by how long it has been silent, and back to
   * alive when heard again (the shared liveness rule). Returns the peers newly suspect, those
   * heard again since they were suspected, and those expired (removed).
   */
  sweep(now: number): { suspected: PeerEntry[]; recovered: PeerEntry[]; expired: PeerEntry[] } {
    const out = { suspected: [] as PeerEntry[], recovered: [] as PeerEntry[], expired: [] as PeerEntry[] };
    for (const id of this.recovering) {
      const e = this.peers.get(id);
      if (e && !e.suspect) out.recovered.push(e);
    }
    this.recovering.clear();
    for (const t of this.life.update(now)) {
      const e = this.peers.get(t.peer);
      if (!e) continue;
      if (t.to === 'suspect') out.suspected.push(e);
      else if (t.to === 'dead') { this.peers.delete(t.peer); this.pinned.delete(t.peer); this.life.forget(t.peer); out.expired.push(e); }
    }
    return out;
  }

  get(peerId: string): PeerEntry | undefined { return this.peers.get(peerId); }
  get size(): number { return this.peers.size; }
  entries(): PeerEntry[] { return [...this.peers.values()]; }
}
