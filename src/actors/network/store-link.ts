// What the network keeps in the node's store, by messages to the store actor.
import type { Envelope } from '../../protocol/index.ts';
import type { BlockedPeer } from './gate.ts';
import type { SavedStanding } from '../../market/reputation.ts';

export interface NetworkStoreLink {
  /** Whether peers known now are kept for the next start (a node with a data directory). */
  keepsPeers: boolean;
  knownPeers(): Promise<KnownPeer[]>;
  saveKnownPeers(peers: KnownPeer[]): Promise<unknown>;
  /** Resolves once the receipt is fsynced. */
  putReceipt(receipt: Envelope<'receipt'>): Promise<unknown>;
  blocked(): Promise<BlockedPeer[]>;
  saveBlock(b: BlockedPeer): Promise<unknown>;
  dropBlock(peer: string): Promise<unknown>;
  standings(): Promise<SavedStanding[]>;
  saveStandings(s: SavedStanding[]): Promise<unknown>;
}

/** A peer this node was connected to, and where: dialled again at the next start. */
export interface KnownPeer { peer_id: string; addrs: string[] }
