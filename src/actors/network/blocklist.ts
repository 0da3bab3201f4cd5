// The operator's block list as a part of the network: the gate (gate.ts) restored from the store
// before libp2p starts, blocks and unblocks kept in the store, a blocked peer's connections
// closed and an unblocked one dialled again.
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/log.ts';
import { PeerGate, type BlockedPeer } from './gate.ts';
import type { NetworkStoreLink } from './store-link.ts';
import type { NetworkTransport } from './transport.ts';
import type { Startable } from './lifecycle.ts';

export class BlockList implements Startable {
  readonly gate: PeerGate;

  constructor(private readonly deps: {
    privateKey: PrivateKey; store: NetworkStoreLink; clock: Clock; log: Logger; transport: NetworkTransport;
  }) {
    const peerId = peerIdFromPrivateKey(deps.privateKey).toString();
    // From the key, not libp2p: the block list is restored before libp2p starts.
    this.gate = new PeerGate(() => peerId);
  }

  /** Restores the list from the store; run before the transport starts (its gater asks `has`). */
  async restore(): Promise<void> {
    const skipped = this.gate.restore(await this.deps.store.blocked());
    if (skipped.length > 0) this.deps.log.warn({ entries: skipped }, 'Block list entries in the store that are not peer ids: ignored');
  }

  start(): void {}
  stop(): void {}

  has(peer: string): boolean { return this.gate.has(peer); }

  /** Blocks a peer (gate.ts), keeps the block in the store, and closes its open connections; throws InvalidPeerError. */
  async block(peer: string): Promise<BlockedPeer & { closed: number }> {
    const b = this.gate.block(peer, this.deps.clock.now());
    await this.deps.store.saveBlock(b);
    const open = this.deps.transport.libp2p.getConnections(peerIdFromString(b.peer_id));
    for (const c of open) c.abort(new Error('peer blocked by the operator'));
    this.deps.log.warn({ peer: b.peer_id, closed: open.length }, 'Peer blocked');
    return { ...b, closed: open.length };
  }

  /** Lifts a block (in the store too), and dials the peer again where libp2p knows its addresses; false when it was not blocked. */
  async unblock(peer: string): Promise<boolean> {
    if (!this.gate.unblock(peer)) return false;
    await this.deps.store.dropBlock(peer);
    this.deps.log.info({ peer }, 'Peer unblocked');
    this.deps.transport.libp2p.dial(peerIdFromString(peer), { signal: AbortSignal.timeout(10_000) })
      .catch((err: Error) => this.deps.log.debug({ peer, err: err.message }, 'Dial after unblock failed'));
    return true;
  }
}
