// The gossipsub topics, named once: every node, client, test and bench takes them from here.
//   announce: signed manifests and heartbeats (liveness rides on them)
//   work:     the job marketplace of protocol 1.0 (broadcast offers): offers, claims, assignments
//   receipt:  executors' signed receipts
//   orch:     orchestration (coordinator elections, consensus decisions)
//   offers:   protocol 2.0's scoped marketplace: one topic per (model, shard), see offerTopic
//   hb:       protocol 2.0's council-scoped heartbeats: two topics per context group, see heartbeatTopic
//             (protocol 1.0 heartbeats on the announce topic, to every node)
export const TOPICS = { announce: 'mvp/1/announce', work: 'mvp/1/work', receipt: 'mvp/1/receipt', orch: 'mvp/1/orch' } as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

export const WORK_TOPIC = TOPICS.work;
export const RECEIPT_TOPIC = TOPICS.receipt;

/** Prefix of the scoped offer topics: `mvp/offers/<model sha256>/<shard>`. */
export const OFFER_TOPIC_PREFIX = 'mvp/offers/';

/**
 * The topic on which offers, claims and assignments for a model travel: the model's context
 * group (the nodes that serve it), or one shard of it once the group has grown past the shard
 * size. Only holders of that shard subscribe; a client publishes there and hears the claims.
 */
export function offerTopic(modelSha256: string, shard: number): string {
  return `${OFFER_TOPIC_PREFIX}${modelSha256}/${shard}`;
}

/** The model and shard of an offer topic; undefined for any other topic. */
export function parseOfferTopic(topic: string): { sha256: string; shard: number } | undefined {
  const m = /^mvp\/offers\/([0-9a-f]{64})\/(\d{1,4})$/.exec(topic);
  return m ? { sha256: m[1]!, shard: Number(m[2]) } : undefined;
}

/** Default most holders per shard: 2·log₂N for N known nodes, at least 4. */
export function defaultShardSize(nodes: number): number {
  return Math.max(4, 2 * Math.ceil(Math.log2(Math.max(2, nodes))));
}

/** How many shards a group of `holders` takes at most `size` per shard (at least one). */
export function shardCount(holders: number, size: number): number {
  return Math.max(1, Math.ceil(holders / Math.max(1, size)));
}

/**
 * The shard a holder belongs to among `count`: FNV-1a of its peer id, modulo count. Every node
 * computes the same for a given count; counts differ only while views of the group differ, and
 * a client that hears no claim on one shard offers to another.
 */
export function shardOf(peerId: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < peerId.length; i++) h = Math.imul(h ^ peerId.charCodeAt(i), 0x01000193) >>> 0;
  return h % Math.max(1, count);
}

/** The context group every node is in (the others are `model:<name>`). */
export const SWARM_GROUP = 'swarm';

/** Prefix of the council-scoped heartbeat topics: `mvp/hb/<group>/council` and `mvp/hb/<group>/members`. */
export const HEARTBEAT_TOPIC_PREFIX = 'mvp/hb/';

/**
 * The topics a context group's heartbeats travel on (protocol 2.0). Every member hears the
 * `council` topic, on which the council (and any member that cannot yet know the council)
 * heartbeats; the other members heartbeat on the `members` topic, which only the group's holder
 * and members still looking for a record hear. The rule is the orchestration core's
 * (`heartbeatScope`), so a node handles O(council) heartbeats per period in each of its groups.
 */
export function heartbeatTopic(group: string, kind: 'council' | 'members'): string {
  return `${HEARTBEAT_TOPIC_PREFIX}${group}/${kind}`;
}

/** Where a node's heartbeats go and which heartbeat topics it hears (OrchestrationCore.heartbeatScope). */
export interface HeartbeatScope {
  /** Groups whose council topic this node hears (all its groups). */
  groups: string[];
  /** Groups it heartbeats on the council topic of: it is on the council, holds the record, or holds no full record. */
  council: string[];
  /** Groups whose members topic it also hears: it holds the record, or holds no full record. */
  hearAll: string[];
  /** Unless it hears the whole swarm: the peers whose heartbeats it hears (its groups' councils and holders, and the members it knows of the groups it hears all of). */
  hears?: string[];
}
