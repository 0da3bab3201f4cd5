// Peer liveness as a part of the network: sweeps the peer table (alive → suspect → expired, the
// shared rule of src/liveness/table.ts) and pings quiet connected peers. An open connection
// proves nothing (a killed or cut-off peer's TCP connection can linger long after it went
// silent), so a connected peer quiet past a third of the timeout, when its heartbeat was due, is
// pinged (one heard only by its announces: once it missed one): its pong counts as hearing it.
// A peer the peer table pinned to the heartbeat timeout is pinged even when not connected.
import { peerIdFromString } from '@libp2p/peer-id';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { PeerEntry, PeerTable } from './peer-table.ts';
import type { NetworkTransport } from './transport.ts';
import { Timers, type Startable } from './lifecycle.ts';

/**
 * How often peer liveness is checked: a twelfth of the heartbeat timeout, within [250 ms, 1 s],
 * so that a quiet peer is pinged (past a third of the timeout) well before it would be suspect
 * (past half), and suspicion and expiry are noticed within a tick.
 */
export const livenessTickMs = (timeoutMs: number) => Math.min(1000, Math.max(250, timeoutMs / 12));

export class LivenessWatch implements Startable {
  private readonly timers: Timers;
  /** Peers with a liveness ping in flight (one at a time each). */
  private readonly pinging = new Set<string>();

  constructor(private readonly deps: {
    clock: Clock; log: Logger; transport: NetworkTransport; peerTable: PeerTable;
    /** A peer expired: the other parts forget what they kept about it. */
    onExpired(peer: string): void;
  }) {
    this.timers = new Timers(deps.clock, deps.log);
  }

  start(): void { this.timers.every(livenessTickMs(this.deps.peerTable.timeoutMs), () => this.sweep()); }
  stop(): void { this.timers.stop(); }

  /** Peer liveness: alive → suspect (silent past half the heartbeat timeout) → expired (past the timeout), back to alive on any message. */
  private sweep(): void {
    const { peerTable, log } = this.deps;
    const now = this.deps.clock.now();
    const { suspected, recovered, expired } = peerTable.sweep(now);
    const about = (e: PeerEntry) => ({ peer: e.peerId, peer_node_id: e.manifest?.node_id, silent_ms: now - e.lastSeen });
    for (const e of suspected) log.info(about(e), 'Peer suspected: not heard for half the heartbeat timeout');
    for (const e of recovered) log.info(about(e), 'Peer alive again: heard after it was suspected');
    for (const e of expired) {
      this.deps.onExpired(e.peerId);
      log.info(about(e), 'Peer expired: not heard within heartbeat timeout');
    }
    const connected = this.deps.transport.connectedPeers();
    for (const e of peerTable.entries()) {
      // A peer pinned to the heartbeat timeout is pinged even unconnected (a dial): it may just
      // have moved off the council, and its pong then frees it to the announce pace.
      const reachable = connected.has(e.peerId) || peerTable.isPinned(e.peerId);
      if (now - e.lastSeen > peerTable.quietMs(e.peerId) && reachable && !this.pinging.has(e.peerId)) this.ping(e.peerId, now);
    }
  }

  /** A liveness ping, given up after a third of the heartbeat timeout; a pong means the peer was alive when pinged. */
  private ping(peerId: string, sentAt: number): void {
    const { peerTable } = this.deps;
    this.pinging.add(peerId);
    this.deps.transport.libp2p.services.ping.ping(peerIdFromString(peerId), { signal: AbortSignal.timeout(peerTable.timeoutMs / 3) })
      .then(() => { if (peerTable.get(peerId)) peerTable.heard(peerId, sentAt); })
      .catch((err: Error) => { if (!this.timers.stopped) this.deps.log.debug({ peer: peerId, err: err.message }, 'Liveness ping failed'); })
      .finally(() => this.pinging.delete(peerId));
  }
}
