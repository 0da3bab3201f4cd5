// What the network actor accepts and answers.
import type { DhtCounters } from './dht.ts';
import type { RequestEvent } from '../../runtime/actor.ts';
import type { Call, DefineProtocol } from '../../runtime/protocol.ts';
import type { DropReason, Manifest, ModelManifest, OrchSummary, HeartbeatScope } from '../../protocol/index.ts';
import type { ReceiptEnvelope } from '../../protocol/receipt.ts';
import type { StoreWritable } from '../store/messages.ts';
import type { ClaimableState } from '../scheduler/messages.ts';
import type { PullProgress } from './model-transfer.ts';
import type { ReceiptRefusal } from '../../market/receipts.ts';
import type { BlockedPeer } from './gate.ts';
import type { PeerState } from './peer-table.ts';
import type { GuardDrop, Offence, PeerScore } from '../../market/reputation.ts';
import type { SharedFile } from './model-transfer.ts';
export type { BlockedPeer, PullProgress, SharedFile };

/**
 * Inspection drops, receipts refused after inspection (one accepted receipt per job id), the
 * guard's (over a peer's rate, or from a peer whose score is too low: reputation.ts), and
 * messages signed by a peer the operator blocked (`blocked`, even when relayed by another node).
 */
export type NetworkDropReason = DropReason | ReceiptRefusal | GuardDrop | 'blocked';

/** network.block's answer: the block, and how many open connections with the peer it closed. */
export type BlockReply = BlockedPeer & { closed: number };

export interface PeerSummary {
  peer_id: string;
  node_id?: string;
  connected: boolean;
  addrs: string[];
  version?: string;
  /** When it was last heard (ms epoch): a message from it, or its answer to a liveness ping. */
  last_seen: number;
  /** `suspect` once silent for more than half of heartbeat_timeout_secs; expired (gone from the list) past all of it. */
  state: PeerState;
  /** How long ago it was last heard, ms. */
  silent_ms: number;
  models: string[];
  /** This node's reputation score for the peer (0 neutral, negative: offences; reputation.ts). */
  score: number;
}

/** A model served somewhere on the network: by this node (`self`) or by a peer whose manifest it holds. */
export interface ServedModel {
  model: ModelManifest;
  peer_id: string;
  node_id: string;
  self: boolean;
}

/** A peer's latest manifest as this node holds it. */
export interface PeerManifest { peer_id: string; state: PeerState; manifest: Manifest }

export interface NetworkStatus {
  peer_id: string;
  node_id: string;
  listen: string[];
  /** Peers with an open connection. */
  peers: number;
  /** Peers in the peer table (heard from within the heartbeat timeout, directly or via gossip). */
  known: number;
  /** Interval of our heartbeats now (the orchestrator's adjust_gossip changes it). */
  heartbeat_ms: number;
  /**
   * Gossip messages handed to us: each is accepted, a duplicate (the gossip copy of an announce
   * that sync brought first) or dropped for one reason, so received = accepted + duplicates +
   * the sum of dropped.
   */
  received: number;
  accepted: number;
  duplicates: number;
  published: number;
  /** Gossip messages handed to this node, by topic: a node hears a model's offer topics only if it serves the model. */
  deliveries: Record<string, number>;
  /** The offer topics this node subscribes to (its models' shards; the work topic under protocol 1.0). */
  offer_topics: string[];
  /**
   * The heartbeat topics this node subscribes to and those its heartbeats go to (protocol 2.0:
   * its groups' council topics, and members topics it hears as a holder or while it looks for a
   * record; 1.0: the announce topic).
   */
  heartbeat_topics: { hears: string[]; speaks: string[] };
  /** The one protocol version it speaks: 2.0 scopes offers, 1.0 broadcasts them (network.offer_scope). */
  protocol_version: string;
  dropped: Partial<Record<NetworkDropReason, number>>;
  /** Announces and receipts brought by manifest sync that were refused, by reason (not gossip: apart). */
  sync_dropped: Partial<Record<NetworkDropReason, number>>;
  /** In-process (memory transport) nodes: gossip the simulator's shaped links lost on the way here (not received). */
  sim_lost?: number;
  reputation: {
    /** Score under which a peer's claims are dropped. */
    claims_refused_below: number;
    /** How many peers are below it. */
    claims_refused: number;
    /** Peers with a negative score, lowest first (the 100 lowest). */
    suspects: PeerScore[];
    /** Offences seen since the network actor started, by kind. */
    offences: Record<Offence, number>;
  };
  /**
   * Serving model files (/mvp/model/1.0.0): files given and hashed ready to serve, chunks and
   * bytes sent, requests refused (not shared, unknown file, over a peer's rate).
   */
  model_transfer: { files: number; files_ready: number; chunks_served: number; bytes_served: number; refused: number };
  /**
   * `private`: a swarm key is set (network.swarm_key). `suspected_key_mismatches`: handshakes
   * that failed right after the key exchange (the other end has another key, or none).
   */
  swarm: { private: boolean; suspected_key_mismatches: number };
  /**
   * The swarm's DHT (dht.ts): receipt records refused by reason (forged, altered, under another
   * job's key…), receipts put (and puts that reached no peer), receipt and provider lookups, and
   * the routing table's size.
   */
  dht: DhtCounters & { routing_table?: number };
  /** The node drains (SIGTERM, POST /drain): it claims no job and takes no job stream. */
  draining: boolean;
  /** Median round trip to connected peers, ms, when libp2p measured one (not on the memory transport). */
  rtt_ms?: number;
}

/** How long a receipt lookup by job id in the swarm's DHT may take (network.receipt on a node holding no copy). */
export const RECEIPT_LOOKUP_MS = 15_000;

export type NetworkIn =
  | RequestEvent<{ type: 'network.status' }>
  | RequestEvent<{ type: 'network.peers' }>
  /** → ServedModel[]: this node's models, then those in the manifests of the peers it knows. */
  | RequestEvent<{ type: 'network.models' }>
  /** → PeerManifest[]: the peers this node holds a manifest of, with it and their liveness (placement of models). */
  | RequestEvent<{ type: 'network.manifests' }>
  /**
   * → null, once recorded: a light client of this node's own (the OpenAI gateway's) will
   * connect; let it in whatever auto_accept_peers says, and leave it out of the peer counts and
   * the peer table: it is part of this node, not a peer.
   */
  | RequestEvent<{ type: 'network.local_client'; peer_id: string }>
  /** The orchestrator's adjust_gossip → { heartbeat_ms, previous_ms, factor }; RangeError outside [0.25, 2]. */
  | RequestEvent<{ type: 'network.adjust_gossip'; heartbeat_factor: number }>
  /** → ReceiptEnvelope | null: a job's receipt: booked here (signed here, held as a DHT replica, looked up before), else looked up in the DHT. */
  | RequestEvent<{ type: 'network.receipt'; job_id: string }>
  /** → peer ids: the DHT's providers of the model file with this sha256 (this node aside). */
  | RequestEvent<{ type: 'network.providers'; sha256: string }>
  /** → Manifest: this node's own manifest, as its next announce will carry it. */
  | RequestEvent<{ type: 'network.manifest' }>
  /** → ReceiptEnvelope[]: the latest receipts accepted, newest first (default 100, at most 1000). */
  | RequestEvent<{ type: 'network.receipts'; limit?: number }>
  /**
   * The operator's block list (gate.ts). network.block → BlockReply; network.unblock →
   * { peer_id, was_blocked }; network.blocked → BlockedPeer[]. A peer id that is not one, or
   * this node's own, is refused with InvalidPeerError.
   */
  | RequestEvent<{ type: 'network.block'; peer_id: string }>
  | RequestEvent<{ type: 'network.unblock'; peer_id: string }>
  | RequestEvent<{ type: 'network.blocked' }>
  /** Orchestration (consensus actor): gossip one coord_* / decision_* message on mvp/1/orch → { id }. */
  | RequestEvent<{ type: 'network.orch_publish'; msg_type: string; body: unknown }>
  /** → null once announced: the models this node serves from now on (loaded or unloaded at runtime), and their files. */
  | RequestEvent<{ type: 'network.set_models'; models: ModelManifest[]; files: SharedFile[] }>
  /**
   * Fetch a model file by sha256 from the peers that announce it, into `dir` as `<sha256>.gguf`
   * → PullProgress once it is there; ModelPullError (`code`) when it cannot be (model-transfer.ts).
   * A second request for a sha256 being pulled joins the first.
   */
  | RequestEvent<{ type: 'network.pull'; sha256: string; dir: string }>
  /** → PullProgress[]: pulls in progress, then the latest ended. */
  | RequestEvent<{ type: 'network.pulls' }>
  /** → { sha256, cancelled }: stop a pull, keeping its verified chunks for a resume. */
  | RequestEvent<{ type: 'network.cancel_pull'; sha256: string }>
  /** Orchestration: the summary our heartbeats carry from now on. */
  | { type: 'network.orch_state'; summary: OrchSummary; scope?: HeartbeatScope }
  /**
   * The node drains (see create-node.ts): stop claiming and taking job streams, have the
   * scheduler hand its queued jobs back, give the running ones timeout_ms, then end those left
   * with a failed receipt (reason `drain`) → NetworkDrainReport.
   */
  | RequestEvent<{ type: 'network.drain'; timeout_ms: number }>
  /** → null once the receipts being gossiped have gone out (a drain's flush step). */
  | RequestEvent<{ type: 'network.flush_receipts' }>
  /** Tokens of a job this node runs for a remote client, on their way to its job stream. */
  | { type: 'inference.token'; job_id: string; text: string }
  /** The scheduler's claim verdicts, sent whenever they change (ClaimableState). */
  | { type: 'network.claimable'; state: ClaimableState }
  | { type: 'sys.actor_down'; name: string }
  | { type: 'sys.actor_up'; name: string };

/** What a drain did: queued jobs handed back, running jobs that finished in time, and those ended by the deadline. */
export interface NetworkDrainReport { handed_back: number; finished: number; ended_by_drain: number }


/**
 * The network actor's states, as GET /actors shows them (machine.ts): `starting` (libp2p coming
 * up), `joining` (up, no peer connected yet), `online` (a peer connected), `isolated` (was
 * online, no peer connected for a while); `failed` (its start threw: the crash follows at once).
 */
export const NETWORK_STATES = ['starting', 'joining', 'online', 'isolated', 'failed'] as const;
export type NetworkState = (typeof NETWORK_STATES)[number];

type Req<T extends NetworkIn['type']> = Omit<Extract<NetworkIn, { type: T; replyTo: string }>, 'replyTo' | 'from'>;
type Ev<T extends NetworkIn['type']> = Extract<NetworkIn, { type: T }>;

/** The network actor's published protocol. */
export type NetworkProtocol = DefineProtocol<
  | Call<Req<'network.status'>, NetworkStatus>
  | Call<Req<'network.peers'>, PeerSummary[]>
  | Call<Req<'network.models'>, ServedModel[]>
  | Call<Req<'network.manifests'>, PeerManifest[]>
  | Call<Req<'network.local_client'>, null>
  | Call<Req<'network.adjust_gossip'>, { heartbeat_ms: number; previous_ms: number; factor: number }>
  | Call<Req<'network.receipt'>, ReceiptEnvelope | null>
  | Call<Req<'network.providers'>, string[]>
  | Call<Req<'network.manifest'>, Manifest>
  | Call<Req<'network.receipts'>, ReceiptEnvelope[]>
  | Call<Req<'network.block'>, BlockReply>
  | Call<Req<'network.unblock'>, { peer_id: string; was_blocked: boolean }>
  | Call<Req<'network.blocked'>, BlockedPeer[]>
  | Call<Req<'network.orch_publish'>, { id: string }>
  | Call<Req<'network.set_models'>, null>
  | Call<Req<'network.pull'>, PullProgress>
  | Call<Req<'network.pulls'>, PullProgress[]>
  | Call<Req<'network.cancel_pull'>, { sha256: string; cancelled: boolean }>
  | Call<Req<'network.drain'>, NetworkDrainReport>
  | Call<Req<'network.flush_receipts'>, null>,
  Ev<'network.orch_state'> | Ev<'inference.token'> | Ev<'network.claimable'> | StoreWritable
>;

declare module '../../runtime/protocol.ts' {
  interface ActorProtocols { network: NetworkProtocol }
}

/** Why a receipt record was refused. */
export const RECORD_REFUSALS = Object.freeze(['oversize', 'malformed', 'wrong_key', 'format', 'signature', 'executor', 'unassigned'] as const);
export type RecordRefusal = (typeof RECORD_REFUSALS)[number];
