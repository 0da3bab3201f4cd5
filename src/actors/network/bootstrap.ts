// Finding and keeping peers: the bootstrap dialer (each configured address dialled with backoff,
// re-dialled when its connection goes), mDNS discoveries dialled within max_peers, peers known
// from the store dialled at start and saved for the next, and a few connections kept beyond the
// bootstrap node by dialling peers learned from announces. It also keeps the trusted peer ids
// (bootstrap peers, local clients): the only ones let in when auto_accept_peers is false.
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import type { Config } from '../../config/types.ts';
import type { PeerTable } from './peer-table.ts';
import type { NetworkStoreLink } from './store-link.ts';
import type { NetworkTransport } from './transport.ts';
import { Timers, type Startable } from './lifecycle.ts';

/** Known peers are saved this often when they changed (they may lag a crash by as much). */
const KNOWN_PEERS_SAVE_MS = 10_000;
/** At most this many peers known from the store are dialled at start. */
const KNOWN_PEERS_DIALLED = 16;

export interface BootstrapDeps {
  config: Readonly<Config>;
  clock: Clock;
  log: Logger;
  transport: NetworkTransport;
  peerTable: PeerTable;
  store: NetworkStoreLink;
  blocked(peer: string): boolean;
  /** This node's own light clients: not dialled, not saved as peers. */
  isLocalClient(peer: string): boolean;
}

export class BootstrapDialer implements Startable {
  /** Peer ids learned from bootstrap addresses (and local clients), allowed in when auto_accept_peers is false. */
  readonly trusted = new Set<string>();
  private readonly timers: Timers;
  private lastKnown = '';

  constructor(private readonly deps: BootstrapDeps) {
    this.timers = new Timers(deps.clock, deps.log);
    for (const a of deps.config.network.bootstrap_peers) {
      try {
        const id = multiaddr(a).getComponents().find((c) => c.name === 'p2p')?.value;
        if (id) this.trusted.add(id);
      } catch { /* reported when dialled */ }
    }
  }

  private get config() { return this.deps.config; }

  start(): void {
    const node = this.deps.transport.libp2p;
    node.addEventListener('peer:discovery', (e) => {
      // libp2p 3 does not dial what mDNS finds; we do, within max_peers.
      if (!this.config.network.auto_accept_peers && !this.trusted.has(e.detail.id.toString())) return;
      if (node.getConnections(e.detail.id).length > 0 || node.getConnections().length >= this.config.network.max_peers) return;
      this.deps.log.info({ peer: e.detail.id.toString(), addrs: e.detail.multiaddrs.map(String) }, 'Peer discovered');
      node.dial(e.detail.id).catch((err: Error) => this.deps.log.debug({ peer: e.detail.id.toString(), err: err.message }, 'mDNS dial failed'));
    });
    for (const a of this.config.network.bootstrap_peers) void this.dialBootstrap(a);
    void this.dialKnownPeers();
    this.timers.every(KNOWN_PEERS_SAVE_MS, () => this.saveKnownPeers());
    this.timers.every(1000, () => this.maintain());
  }

  stop(): void { this.timers.stop(); }

  private maintain(): void {
    // Keep a few connections beyond the bootstrap node: dial peers learned from announces.
    const node = this.deps.transport.libp2p;
    const connected = this.deps.transport.connectedPeers();
    const want = Math.min(6, this.config.network.max_peers);
    if (connected.size >= want) return;
    const candidates = this.deps.peerTable.entries().filter((e) => !connected.has(e.peerId) && (e.manifest?.addrs.length ?? 0) > 0
      && (this.config.network.auto_accept_peers || this.trusted.has(e.peerId)));
    for (const e of candidates.sort(() => Math.random() - 0.5).slice(0, want - connected.size)) {
      const addrs = e.manifest!.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${e.peerId}`));
      node.dial(addrs).catch(() => undefined);
    }
  }

  private async dialBootstrap(addr: string): Promise<void> {
    let ma: Multiaddr;
    try { ma = multiaddr(addr); } catch (err) {
      this.deps.log.error({ addr }, `Failed to dial bootstrap peer ${addr}: invalid multiaddr (${(err as Error).message})`);
      return;
    }
    const maxMs = this.config.network.bootstrap_retry_max_secs * 1000;
    let backoff = 1000;
    while (!this.timers.stopped) {
      const node = this.deps.transport.libp2p;
      const id = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      const connected = id ? node.getConnections(peerIdFromString(id)).length > 0 : false;
      if (!connected) {
        try {
          const conn = await node.dial(ma, { signal: AbortSignal.timeout(10_000) });
          this.trusted.add(conn.remotePeer.toString());
          this.deps.log.info({ addr, peer: conn.remotePeer.toString() }, 'Connected to bootstrap peer');
          backoff = 1000;
          // Watch the connection; re-dial when it goes.
          ma = ma.getComponents().some((c) => c.name === 'p2p') ? ma : ma.encapsulate(`/p2p/${conn.remotePeer.toString()}`);
        } catch (err) {
          if (this.timers.stopped) return;
          this.deps.log.warn({ addr, retry_in_ms: backoff }, `Failed to dial bootstrap peer ${addr}: ${(err as Error).message}`);
          await this.timers.sleep(backoff);
          backoff = Math.min(maxMs, backoff * 2);
          continue;
        }
      }
      await this.timers.sleep(Math.min(maxMs, 5000));
    }
  }

  /**
   * A restarted node knows peers from its store (those it was connected to, with the addresses
   * it reached them at): it dials them, so it rejoins without a bootstrap node. Auto-accept
   * rules and blocks apply as to any dial.
   */
  private async dialKnownPeers(): Promise<void> {
    if (!this.deps.store.keepsPeers) return;
    const node = this.deps.transport.libp2p;
    const self = this.deps.transport.peerId;
    const known = (await this.deps.store.knownPeers().catch((err: Error) => {
      this.deps.log.warn({ err: err.message }, 'Known peers not read from the store');
      return [];
    })).filter((p) => p.peer_id !== self && !this.deps.blocked(p.peer_id) && p.addrs.length > 0).slice(0, KNOWN_PEERS_DIALLED);
    if (known.length === 0) return;
    this.deps.log.info({ peers: known.length }, 'Dialling peers known from the store');
    for (const p of known) {
      if (this.timers.stopped) return;
      let addrs: Multiaddr[];
      try { addrs = p.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${p.peer_id}`)); } catch { continue; }
      if (node.getConnections(peerIdFromString(p.peer_id)).length > 0) continue;
      node.dial(addrs, { signal: AbortSignal.timeout(10_000) })
        .catch((err: Error) => this.deps.log.debug({ peer: p.peer_id, err: err.message }, 'Known peer not reachable'));
    }
  }

  /** The peers connected now (light clients aside), where we reached them, for the next start. */
  private saveKnownPeers(): void {
    if (!this.deps.store.keepsPeers) return;
    const node = this.deps.transport.libp2p;
    const byPeer = new Map<string, Set<string>>();
    for (const c of node.getConnections()) {
      const id = c.remotePeer.toString();
      if (this.deps.isLocalClient(id)) continue;
      // An inbound connection's address is the peer's ephemeral port: only its manifest says where it listens.
      const addrs = byPeer.get(id) ?? new Set<string>();
      for (const a of node.getConnections(c.remotePeer).filter((x) => x.direction === 'outbound')) addrs.add(a.remoteAddr.toString());
      for (const a of this.deps.peerTable.get(id)?.manifest?.addrs ?? []) addrs.add(a);
      byPeer.set(id, addrs);
    }
    const peers = [...byPeer].filter(([, a]) => a.size > 0).slice(0, 64).map(([peer_id, a]) => ({ peer_id, addrs: [...a].slice(0, 8) }));
    const text = JSON.stringify(peers);
    if (peers.length === 0 || text === this.lastKnown) return;
    this.deps.store.saveKnownPeers(peers).then(
      () => { this.lastKnown = text; },
      (err: Error) => this.deps.log.debug({ err: err.message }, 'Known peers not saved'));
  }
}
