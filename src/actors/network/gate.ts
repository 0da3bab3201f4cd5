// The operator's peer block list (POST / DELETE /peers/:peer/block): a blocked peer gets no
// connection either way (libp2p's connection gater asks `has`), its open connections are closed
// (blocklist.ts), and its gossip is dropped even when a third node relays it (the envelope's
// signed `from`). The network actor keeps it in the node's store, so it outlasts restarts.
import { peerIdFromString } from '@libp2p/peer-id';
import { CodedError } from '../../errors/registry.ts';

/** A peer id that is not one, or this node's own: the request names its cause. */
export class InvalidPeerError extends CodedError {
  override name = 'InvalidPeerError';
  constructor(message: string, options?: ErrorOptions) { super('invalid_peer', message, options); }
}

export interface BlockedPeer { peer_id: string; since: number }

export class PeerGate {
  private readonly blocked = new Map<string, number>();

  constructor(private readonly self: () => string) {}

  has(peer: string): boolean { return this.blocked.has(peer); }

  /** The list as the store kept it; returns the entries it could not take (not peer ids, or this node's). */
  restore(saved: readonly BlockedPeer[]): string[] {
    const skipped: string[] = [];
    for (const b of saved) {
      try { this.blocked.set(this.check(b.peer_id), b.since); } catch { skipped.push(String(b.peer_id)); }
    }
    return skipped;
  }

  /** Blocks `peer` from `now` (blocking it again keeps the first time). */
  block(peer: string, now: number): BlockedPeer {
    const id = this.check(peer);
    if (!this.blocked.has(id)) this.blocked.set(id, now);
    return { peer_id: id, since: this.blocked.get(id)! };
  }

  /** Whether `peer` was blocked. */
  unblock(peer: string): boolean { return this.blocked.delete(this.check(peer)); }

  list(): BlockedPeer[] { return [...this.blocked].map(([peer_id, since]) => ({ peer_id, since })); }

  private check(peer: string): string {
    let id: string;
    try { id = peerIdFromString(peer).toString(); } catch (err) {
      throw new InvalidPeerError(`not a peer id: ${peer} (${(err as Error).message})`);
    }
    if (id === this.self()) throw new InvalidPeerError(`${peer} is this node's own peer id`);
    return id;
  }
}
