// The light client behind `mvp-node submit` and the OpenAI gateway: joins the network without
// serving anything, offers a job (work_offer), picks one of the nodes that claim it (job_claim),
// assigns it (job_assign), brings the prompt over `/mvp/job/1.0.0`, streams the tokens and
// checks the signed receipt it ends with: the client side of the job path (docs/ARCHITECTURE.md).
// `LightClient` joins once and runs many jobs; `submitJob` is one job with a client of its own.
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { PrivateKey, Stream } from '@libp2p/interface';
import { LRUCache } from 'lru-cache';
import { buildLibp2p, type NetworkNode, type Transport } from '../actors/network/libp2p.ts';
import { SYNC_PROTOCOL, parseResponse, readJson, writeJson } from '../actors/network/sync.ts';
import { LEASE_MS } from '../market/executor.ts';
import { WORK_TOPIC, offerTopic } from '../protocol/topics.ts';
import {
  BROADCAST_PROTOCOL_VERSION, PROTOCOL_VERSION, buildWorkOffer, createEnvelopeInspector, encodeEnvelope, sealEnvelope, sha256Hex, verifyReceipt,
  type Envelope, type JobClaimBody, type JobPriority, type Manifest, type ReceiptEnvelope,
} from '../protocol/index.ts';
import { JOB_PROTOCOL, MAX_JOB_STREAMS, parseJobFrame, readLines, writeLine } from '../jobs/stream.ts';
import { routeJob, type RoutingCandidate } from '../actors/consensus/router.ts';
import { CodedError } from '../errors/registry.ts';
import { takeAtOnce } from '../market/claim-rule.ts';

/** A client reads both protocol versions: it follows the network it finds (see OfferRoute). */
const CLIENT_READS = [PROTOCOL_VERSION, BROADCAST_PROTOCOL_VERSION];
/** How many holders of a shard a client dials when it holds no connection to any. */
const SHARD_DIALS = 3;
/** How long a client waits for a dialled shard's holders to show as subscribers before offering anyway. */
const SHARD_WAIT_MS = 3000;

/**
 * Where a job's offers go. Protocol 2.0 (scoped): the model's offer shards as the holders'
 * manifests name them (`offer_shard`), least loaded first (mean queue depth per slot, ties at
 * random), the others after in random order; protocol 1.0 (every manifest speaks only 1.0): the
 * broadcast work topic.
 */
export interface OfferRoute { version: string; shards: Array<{ topic: string; holders: string[] }> }

export function offerRoute(manifests: readonly Manifest[], model: string, rand: () => number = Math.random): OfferRoute {
  const holders = manifests.filter((m) => m.models.some((x) => x.name === model));
  const scoped = holders.filter((m) => m.versions.includes(PROTOCOL_VERSION));
  if (holders.length > 0 && scoped.length === 0) return { version: BROADCAST_PROTOCOL_VERSION, shards: [{ topic: WORK_TOPIC, holders: holders.map((m) => m.peer_id) }] };
  const byTopic = new Map<string, { holders: string[]; load: number }>();
  for (const m of scoped) {
    for (const x of m.models) {
      if (x.name !== model || !x.offer_shard) continue;
      const topic = offerTopic(x.sha256, Number(x.offer_shard.split('/')[0]));
      const t = byTopic.get(topic) ?? { holders: [], load: 0 };
      t.holders.push(m.peer_id);
      t.load += m.load.queue_depth / Math.max(1, m.capacity.slots);
      byTopic.set(topic, t);
    }
  }
  const ranked = [...byTopic].map(([topic, t]) => ({ topic, holders: t.holders, load: t.load / t.holders.length, r: rand() }))
    .sort((a, b) => a.load - b.load || a.r - b.r);
  const [first, ...rest] = ranked;
  rest.sort((a, b) => a.r - b.r);
  return { version: PROTOCOL_VERSION, shards: (first ? [first, ...rest] : []).map(({ topic, holders: h }) => ({ topic, holders: h })) };
}

/** One job, as a joined LightClient runs it. */
export interface JobOptions {
  prompt: string;
  /** A model name some node serves; default: the first one found. */
  model?: string;
  maxTokens: number;
  temperature: number;
  seed?: number;
  priority: JobPriority;
  /** Everything, from the first offer to the verified receipt, within this many ms. */
  timeoutMs: number;
  /**
   * How long to wait for a first node to take the job (a claim); past it, NoExecutorError.
   * Default: timeoutMs. A gateway waits briefly for a taker but lets a long generation finish.
   */
  claimTimeoutMs?: number;
  /**
   * How long the executor may stay silent (no token, no keepalive) before the job moves to
   * another claimant. Default LEASE_MS (10 s); the executor sends a keepalive every 2 s.
   */
  leaseMs?: number;
  /** Aborting it gives the job up: the executor's stream is closed (it stops the job), submit rejects with the signal's reason. */
  signal?: AbortSignal;
  onToken?(text: string): void;
  /** Progress notes (joining, claims, chosen executor). */
  onNote?(text: string): void;
  /** The job is about to be offered, under this id (derived from its content and a nonce). */
  onOffer?(jobId: string): void;
  /**
   * The job was assigned to an executor: attempt 1 first, 2 and up when it moved to another
   * claimant after the previous one failed (the new executor starts over: tokens the failed
   * one sent do not count).
   */
  onAssign?(a: { jobId: string; executor: string; attempt: number }): void;
}

export interface SubmitOptions extends JobOptions {
  bootstrap: string[];
  swarmKey?: Uint8Array;
}

export interface JoinOptions {
  /** Nodes of the network to connect to (multiaddrs, bare or with /p2p/<id>). */
  bootstrap: string[];
  /** How long dialling and the first manifest sync may take. */
  timeoutMs: number;
  /** The client's key, when its peer id must be known before it connects; default: a fresh one. */
  privateKey?: PrivateKey;
  /** `memory`: a client of in-process nodes (the simulator's workload); default `tcp`. */
  transport?: Transport;
  /** Who picks the executor among the claimants; default: the decision router's heuristic, here (`localRoute`). */
  route?: JobRouter;
  /** A private swarm's key file content (`--swarm-key`, network.swarm_key): without it such a swarm refuses the client. */
  swarmKey?: Uint8Array;
}

/** The job a routing decision is about. */
export interface RoutedJob { job_id: string; model: string; priority: JobPriority; value?: number }
/** A routing decision: the chosen claimant, and how it was reached (for progress notes). */
export interface RoutePick { executor: string; how: string }
/** Picks one of the claimants (job routing: the offerer's pick). */
export type JobRouter = (job: RoutedJob, candidates: RoutingCandidate[]) => Promise<RoutePick>;

/**
 * Job routing by the decision router's heuristic (`routeJob`), where nothing more is known of
 * the claimants than their claims: a client outside the swarm has no liveness or affinity view.
 */
export const localRoute: JobRouter = async (_job, candidates) => {
  const started = performance.now();
  const d = routeJob(candidates, { dead: () => false, affinity: () => 0 });
  if (!d) throw new Error('no claimant to route the job to');
  return { executor: d.choice, how: `heuristic, local, ${Math.round(performance.now() - started)} ms` };
};

export interface SubmitResult { text: string; receipt: ReceiptEnvelope; executor: string }

/** No node took the job in time: nothing ran. */
export class NoExecutorError extends CodedError {
  override name = 'NoExecutorError';
  constructor(message: string) { super('no_executor', message); }
}
/** The executor refused the job retryably (its queue is full, or it drained: it shut down): offer it again. */
class BusyExecutorError extends CodedError {
  override name = 'BusyExecutorError';
  constructor(message: string) { super('executor_busy', message); }
}
/** The job ran (or was refused) but did not end with a valid receipt. */
export class JobFailedError extends CodedError {
  override name = 'JobFailedError';
  /** `refused`: the executor said no (its reason is in the message); `bad_receipt`: what it returned did not verify. */
  constructor(message: string, readonly kind: 'refused' | 'bad_receipt') {
    super(kind === 'bad_receipt' ? 'bad_receipt' : 'job_refused', message);
  }
}

const CLAIM_WINDOW_MS = 300;
/**
 * Dial attempts per bootstrap address (backoff 250 ms doubling to 2 s, jittered): about 10 s,
 * so a node whose network actor is restarting (its listener back within a few seconds) is
 * reached rather than reported unreachable.
 */
const JOIN_TRIES = 8;
const REOFFER_MS = 2000;
/**
 * A spare job stream (opened to an executor after a job there, so the next job skips a
 * stream's opening: about 3 ms on loopback) is used only while younger than this; executors let
 * an idle one go after SPARE_IDLE_MS (executor.ts), well after.
 */
const SPARE_MAX_AGE_MS = 30_000;
/** A job's assignment is gossiped at its first token, or this long after the pick if none came yet. */
const ASSIGN_AFTER_MS = 50;
/** A long-lived client syncs manifests again before a job when its copy is older than this. */
const MANIFESTS_FRESH_MS = 2000;
/**
 * A claimant that was given a job and did not deliver it is passed over for this long, twice as
 * long for each further failure (at most 16 times)...
 */
const SHUN_MS = 60_000;
/** ...unless no one else claims a job within this long: then it may have it (it may have just restarted). */
const LAST_RESORT_MS = 2000;

/** One job with a client of its own: join, submit, leave (the `mvp-node submit` command). */
export async function submitJob(opts: SubmitOptions): Promise<SubmitResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const client = await LightClient.join({ bootstrap: opts.bootstrap, timeoutMs: opts.timeoutMs, ...(opts.swarmKey ? { swarmKey: opts.swarmKey } : {}) });
  try {
    return await client.submit({ ...opts, timeoutMs: Math.max(1, deadline - Date.now()) });
  } finally {
    await client.close();
  }
}

/**
 * A member of the network that serves nothing and runs jobs on it: joins once (dials the
 * bootstrap nodes, learns the manifests by sync), then submits any number of jobs, each routed
 * as the job path does. It owns its libp2p node: close() releases it.
 */
export class LightClient {
  private manifestMap = new Map<string, Manifest>();
  private syncedAt = 0;
  private closed = false;
  /** Set when a handshake failed right after the swarm key exchange: dial errors say so. */
  private keyMismatch = false;
  /** Executors that failed this client (firsthand, across its jobs): failures, and until when they are passed over. */
  private readonly failed = new LRUCache<string, { failures: number; until: number }>({ max: 1024 });
  /** Per executor, a job stream opened ahead of the next job there (see SPARE_MAX_AGE_MS). */
  private readonly spares = new Map<string, { at: number; stream: Promise<Stream | undefined> }>();

  private constructor(
    private readonly node: NetworkNode,
    private readonly key: PrivateKey,
    /** This client's peer id: the `client` of its offers. */
    readonly peerId: string,
    private readonly bootstrap: readonly string[],
    private readonly route: JobRouter,
  ) {}

  /** Connects to the bootstrap nodes and learns the network's manifests; NoExecutorError when none answers. */
  static async join(opts: JoinOptions): Promise<LightClient> {
    const deadline = Date.now() + opts.timeoutMs;
    if (opts.bootstrap.length === 0) throw new NoExecutorError('submit needs --bootstrap <multiaddr> (a node of the network)');
    const key = opts.privateKey ?? await generateKeyPair('Ed25519');
    const me = peerIdFromPrivateKey(key).toString();
    const transport = opts.transport ?? 'tcp';
    const listen = transport === 'tcp' ? '/ip4/127.0.0.1/tcp/0' : `/memory/client-${me}`;
    let onMismatch = () => {};
    const node = await buildLibp2p({
      privateKey: key, transport, listen: [listen], maxPeers: 16, mdns: false,
      ...(opts.swarmKey ? { swarmKey: opts.swarmKey, onSwarmKeyMismatch: () => onMismatch() } : {}),
    });
    const client = new LightClient(node, key, me, [...opts.bootstrap], opts.route ?? localRoute);
    onMismatch = () => { client.keyMismatch = true; };
    try {
      const errors = await client.dialBootstrap(deadline);
      if (!client.connected) throw new NoExecutorError(errors.join('; '));
      await client.syncManifests();
      return client;
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  /** Whether the client holds a connection to at least one node. */
  get connected(): boolean { return !this.closed && this.node.getConnections().length > 0; }

  /** Whether the client holds a connection to this node. */
  connectedTo(peerId: string): boolean { return !this.closed && this.node.getConnections(peerIdFromString(peerId)).length > 0; }

  /** The manifests learned at the last sync. */
  manifests(): Manifest[] { return [...this.manifestMap.values()]; }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Spares end with the connections (an executor lets a spare go quietly); one still being
    // opened is not waited for.
    this.spares.clear();
    await Promise.resolve(this.node.stop()).catch(() => undefined);
  }

  /**
   * Offers a job, gives it to the best claimant, streams its tokens and returns its verified
   * receipt; a claimant that fails (its stream dies, its lease expires) hands the job to the
   * next. NoExecutorError: nothing ran in time. JobFailedError: refused, or the receipt is not valid.
   */
  async submit(opts: JobOptions): Promise<SubmitResult> {
    const started = Date.now();
    const deadline = started + opts.timeoutMs;
    const claimDeadline = Math.min(deadline, started + (opts.claimTimeoutMs ?? opts.timeoutMs));
    const note = opts.onNote ?? (() => {});
    const signal = opts.signal;
    signal?.throwIfAborted();
    if (this.closed) throw new Error('the light client is closed');
    if (!this.connected) {
      const errors = await this.rejoin(claimDeadline);
      if (!this.connected) throw new NoExecutorError(`lost every connection to the network and could not dial it again: ${errors.join('; ')}`);
      this.syncedAt = 0;
    }
    // A model not seen yet may have just arrived: look before offering. Otherwise an old copy
    // is used as it is and refreshed in the background: a sync before every job would cost
    // each job a round trip and the signature checks of every manifest.
    let fresh = false;
    const known = opts.model ? this.manifests().some((m) => m.models.some((x) => x.name === opts.model)) : this.manifests().length > 0;
    if (!known) { await this.syncManifests(); fresh = true; }
    else if (Date.now() - this.syncedAt > MANIFESTS_FRESH_MS) this.refreshManifests();
    let manifests = this.manifests();
    let model = opts.model ?? firstModel(manifests);
    try {
      if (!model) throw new NoExecutorError('no node on the network serves a model');
      refuseImpossible(manifests, model, opts.maxTokens);
    } catch (err) {
      if (fresh) throw err;
      // Refused on an old copy: refuse only on what the network says now.
      await (this.refreshing ?? this.syncManifests());
      manifests = this.manifests();
      model = opts.model ?? firstModel(manifests);
      if (!model) throw new NoExecutorError('no node on the network serves a model');
      refuseImpossible(manifests, model, opts.maxTokens);
    }
    const route = offerRoute(manifests, model);
    // No manifest names a shard yet (its holders' first announces are on their way): the
    // broadcast topic reaches no 2.0 node, so wait for the shards instead.
    if (route.shards.length === 0) throw new NoExecutorError(`no node serving ${model} has announced its offer shard yet; try again in a moment`);

    const { node, key, peerId: me } = this;
    const offer = buildWorkOffer({
      client: me, model, prompt_sha256: sha256Hex(opts.prompt), max_tokens: opts.maxTokens, temperature: opts.temperature,
      ...(opts.seed === undefined ? {} : { seed: opts.seed }), priority: opts.priority, requirements: {},
    });
    opts.onOffer?.(offer.job_id);
    const shunned = (peer: string) => (this.failed.get(peer)?.until ?? 0) > Date.now();
    const serving = new Set(manifests.filter((m) => m.models.some((x) => x.name === model) && !shunned(m.peer_id)).map((m) => m.peer_id));
    const book = new ClaimBook(node, offer.job_id, serving, shunned);
    // The job goes, beside its offer, on a spare stream to a node of the first shard: if that
    // node claims it, it has started the job already (the claim and the request cross).
    const aheadSent = this.sendAhead(route.shards[0]!.holders.filter((p) => serving.has(p)), offer.job_id, opts.prompt);
    const tried = new Set<string>();
    let attempts = 0;
    // Offers go to one shard, and to the next when no claim came (round robin over the shards).
    let next = 0;
    const offerAgain = async () => {
      const shard = route.shards[next++ % route.shards.length]!;
      await this.reach(shard, Math.min(deadline, Date.now() + SHARD_WAIT_MS), signal);
      return publish(node, key, me, shard.topic, 'work_offer', offer, route.version);
    };
    try {
      for (;;) {
        const claims = await book.next(tried, offerAgain, attempts === 0 ? claimDeadline : deadline, signal);
        if (!claims) break;
        // Only the first pick may use it: by a second, it went to the first claimant or was let go.
        const ahead = attempts === 0 ? await aheadSent : undefined;
        const claim = await this.pick(offer, claims, note, ahead?.executor);
        tried.add(claim.executor);
        attempts++;
        // The executor takes the job from its offer's client whatever the assignment says, so
        // the assignment is gossiped once the first token is in (or ASSIGN_AFTER_MS have
        // passed): signed and gossiped while the request went out, it slowed the job's start
        // at both ends.
        let assigned: Promise<unknown> | undefined;
        const assign = () => {
          assigned ??= publish(node, key, me, book.topicOf(claim.executor) ?? route.shards[0]!.topic, 'job_assign',
            { job_id: offer.job_id, executor: claim.executor, lease_ms: opts.leaseMs ?? LEASE_MS, attempt: attempts }, route.version);
        };
        const assignLater = setTimeout(assign, ASSIGN_AFTER_MS);
        const assignNow = async () => { clearTimeout(assignLater); assign(); await assigned; };
        opts.onAssign?.({ jobId: offer.job_id, executor: claim.executor, attempt: attempts });
        const running: JobOptions = { ...opts, onToken: (text) => { assign(); opts.onToken?.(text); } };
        try {
          let done: SubmitResult;
          const sent = ahead?.executor === claim.executor ? ahead : undefined;
          if (!sent) ahead?.stream.abort(new Error('the job went to another node'));
          if (sent) {
            // Refused there after all (it claimed too late for the request, say): brought again.
            done = await runOn(sent.stream, claim.executor, offer.job_id, running, deadline, sent.lines)
              .catch((err: unknown) => {
                if (!(err instanceof JobFailedError && err.kind === 'refused')) throw err;
                return this.jobStream(claim.executor, manifests).then((s) => runOn(s, claim.executor, offer.job_id, running, deadline));
              });
          } else {
            done = await runOn(await this.jobStream(claim.executor, manifests), claim.executor, offer.job_id, running, deadline);
          }
          // The next job's stream is opened now: opened while this job started, its negotiation
          // competed with the job's request at both ends.
          this.openSpare(claim.executor);
          await assignNow();
          return done;
        } catch (err) {
          await assignNow();
          if (err instanceof BusyExecutorError) {
            // Full for now, or draining: offer again; a full node may claim the job once it has
            // room, a draining one claims nothing more.
            tried.delete(claim.executor);
            book.forget(claim.executor);
            note(err.message);
            continue;
          }
          if (err instanceof JobFailedError) {
            if (err.kind === 'bad_receipt') this.shun(claim.executor);
            throw err;
          }
          signal?.throwIfAborted();
          this.shun(claim.executor);
          note(`executor ${claim.executor} failed: ${(err as Error).message}; moving the job to another claimant`);
          // Its failure may have taken our only connection (that node died, or its network
          // restarted): join again, or the job's new offers would reach nobody.
          if (!this.connected) await this.rejoin(deadline);
          // Only a new claim from that node (its network restarted, say) makes it a candidate again.
          book.forget(claim.executor);
          tried.delete(claim.executor);
        }
      }
    } finally {
      if (attempts === 0) void aheadSent.then((a) => a?.stream.abort(new Error('the job was not given to this node')));
      book.close();
    }
    if (attempts === 0 && claimDeadline < deadline) {
      throw new NoExecutorError(`no node took the job within ${Math.round((claimDeadline - started) / 1000)} s (model ${model}, no claims)`);
    }
    throw new NoExecutorError(`no node could run the job within ${Math.round(opts.timeoutMs / 1000)} s (model ${model}${attempts ? `, ${attempts} attempt${attempts > 1 ? 's' : ''} taken but none delivered` : ', no claims'})`);
  }

  /**
   * Makes an offer topic reachable: subscribed here (the claims come back on it), and a
   * connection to a holder of it (up to SHARD_DIALS of them dialled at the addresses their
   * manifests give when none is connected); waits until one shows as a subscriber or `until`.
   */
  private async reach(shard: { topic: string; holders: string[] }, until: number, signal?: AbortSignal): Promise<void> {
    const pubsub = this.node.services.pubsub;
    if (!pubsub.getTopics().includes(shard.topic)) pubsub.subscribe(shard.topic);
    if (!shard.holders.some((p) => this.connectedTo(p))) {
      const pick = [...shard.holders].sort(() => Math.random() - 0.5).slice(0, SHARD_DIALS);
      await Promise.all(pick.map((p) => {
        const addrs = (this.manifestMap.get(p)?.addrs ?? []).map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${p}`));
        return addrs.length === 0 ? undefined : this.node.dial(addrs, { signal: AbortSignal.timeout(Math.max(1000, Math.min(5000, until - Date.now()))) }).catch(() => undefined);
      }));
    }
    while (pubsub.getSubscribers(shard.topic).length === 0 && Date.now() < until) {
      signal?.throwIfAborted();
      await sleep(50);
    }
  }

  /** A job stream to `executor`: the spare opened after the last job there while it is young and open, else a new one. */
  private async jobStream(executor: string, manifests: Manifest[]): Promise<Stream> {
    return await this.takeSpare(executor) ?? await openJobStream(this.node, executor, manifests);
  }

  /** The spare stream to `executor`, taken out of the spares, if it is young and open both ways. */
  private async takeSpare(executor: string): Promise<Stream | undefined> {
    const spare = this.spares.get(executor);
    this.spares.delete(executor);
    const stream = spare ? await spare.stream : undefined;
    if (stream && (Date.now() - spare!.at >= SPARE_MAX_AGE_MS || stream.status !== 'open' || stream.writeStatus !== 'writable' || stream.remoteWriteStatus !== 'writable')) {
      void stream.close().catch(() => undefined);
      return undefined;
    }
    return stream;
  }

  /** Opens a spare job stream to an executor this client is connected to (no new connection for it). */
  private openSpare(executor: string): void {
    if (this.closed || this.spares.has(executor) || !this.connectedTo(executor)) return;
    const stream = this.node.dialProtocol(peerIdFromString(executor), JOB_PROTOCOL, { signal: AbortSignal.timeout(10_000), maxOutboundStreams: MAX_JOB_STREAMS })
      .catch(() => { this.spares.delete(executor); return undefined; });
    this.spares.set(executor, { at: Date.now(), stream });
  }

  /**
   * Writes the job's request on a usable spare stream to one of `holders`, as the offer goes out:
   * that node starts the job the moment it claims it. Undefined when there is no such spare.
   */
  private async sendAhead(holders: string[], jobId: string, prompt: string): Promise<{ executor: string; stream: Stream; lines: AsyncIterable<unknown> } | undefined> {
    const executor = holders.find((p) => this.spares.has(p) && (this.failed.get(p)?.until ?? 0) <= Date.now());
    if (executor === undefined) return undefined;
    const stream = await this.takeSpare(executor);
    if (!stream) return undefined;
    try {
      await writeLine(stream, { job_id: jobId, prompt });
      await stream.close();
      // Read from now on: the executor may finish and close before this client picks it, and a
      // stream read only after its remote closed never ends.
      return { executor, stream, lines: readingNow(stream) };
    } catch {
      stream.abort(new Error('could not send the job ahead'));
      return undefined;
    }
  }

  /** An executor was given a job and did not deliver it: passed over from now on (see SHUN_MS). */
  private shun(executor: string): void {
    const failures = (this.failed.get(executor)?.failures ?? 0) + 1;
    this.failed.set(executor, { failures, until: Date.now() + SHUN_MS * 2 ** Math.min(4, failures - 1) });
  }

  /**
   * The router's pick among the claims. A router that fails or names no claimant (its node's
   * consensus actor is down, say) does not hold the job up: the local heuristic picks instead.
   */
  private async pick(job: RoutedJob, claims: JobClaimBody[], note: (text: string) => void, ahead?: string): Promise<JobClaimBody> {
    // A claimant with a free slot that got the job with its offer has started it: no one can beat that.
    const started = claims.find((c) => c.executor === ahead && c.capacity > 0);
    if (started) {
      note(`job ${job.job_id.slice(0, 12)} assigned to ${started.executor} (${claims.length} claim${claims.length > 1 ? 's' : ''}; it had the job with its offer and a free slot)`);
      return started;
    }
    const candidates: RoutingCandidate[] = claims.map((c) => ({ peer_id: c.executor, capacity: c.capacity, est_start_ms: c.est_start_ms, queue_depth: c.queue_depth }));
    let p: RoutePick;
    try {
      p = await this.route(job, candidates);
      if (!claims.some((c) => c.executor === p.executor)) throw new Error(`it named ${p.executor}, which did not claim the job`);
    } catch (err) {
      p = await localRoute(job, candidates);
      p = { ...p, how: `${p.how}; the router failed: ${(err as Error).message}` };
    }
    note(`job ${job.job_id.slice(0, 12)} assigned to ${p.executor} (${claims.length} claim${claims.length > 1 ? 's' : ''}; ${p.how})`);
    return claims.find((c) => c.executor === p.executor)!;
  }

  /**
   * Joins again after losing every connection: the bootstrap nodes and, at the same time, the
   * nodes known from their manifests (a bootstrap node may be the one that died). Returns the
   * bootstrap failures (the caller checks `connected`).
   */
  private async rejoin(deadline: number): Promise<string[]> {
    const signal = AbortSignal.timeout(Math.max(1000, Math.min(10_000, deadline - Date.now())));
    const known = this.manifests().map((m) => m.addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${m.peer_id}`)));
    const [errors] = await Promise.all([
      this.dialBootstrap(deadline),
      ...known.filter((addrs) => addrs.length > 0).map((addrs) => this.node.dial(addrs, { signal }).catch(() => undefined)),
    ]);
    return errors;
  }

  /**
   * Dials every bootstrap address at once; returns the failures (the caller checks `connected`).
   * A busy node resets connections beyond its inbound rate limit, so each address is retried
   * with backoff while there is time (at most JOIN_TRIES times).
   */
  private async dialBootstrap(deadline: number): Promise<string[]> {
    const errors: string[] = [];
    await Promise.all(this.bootstrap.map(async (a) => {
      let wait = 250;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.node.dial(multiaddr(a), { signal: AbortSignal.timeout(Math.max(1000, Math.min(10_000, deadline - Date.now()))) });
          return;
        } catch (err) {
          if (attempt >= JOIN_TRIES || Date.now() + wait >= deadline) {
            const hint = this.keyMismatch ? ' (the handshake failed right after the swarm key exchange: suspected swarm key mismatch)' : '';
            errors.push(`Failed to dial bootstrap peer ${a}: ${(err as Error).message}${hint}`);
            return;
          }
          await sleep(wait * (0.5 + Math.random()));
          wait = Math.min(2000, wait * 2);
        }
      }
    }));
    return errors;
  }

  /**
   * Learns the network's manifests from the connected nodes (manifest sync: all they hold).
   * Replaces what was known, so nodes that left drop out; kept when no node answers.
   */
  /** The manifest sync running in the background, if any. */
  private refreshing: Promise<void> | undefined;

  private refreshManifests(): void {
    this.refreshing ??= this.syncManifests().catch(() => undefined).finally(() => { this.refreshing = undefined; });
  }

  private async syncManifests(): Promise<void> {
    const inspector = createEnvelopeInspector({ supportedVersions: CLIENT_READS });
    const fresh = new Map<string, Manifest>();
    let answered = false;
    for (const p of new Set(this.node.getConnections().map((c) => c.remotePeer.toString()))) {
      try {
        const stream = await this.node.dialProtocol(peerIdFromString(p), SYNC_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
        await writeJson(stream, { since: 0 });
        for (const text of parseResponse(await readJson(stream)).announces) {
          const r = await inspector.open(new TextEncoder().encode(text), { now: Date.now() });
          if (r.ok && r.envelope.type === 'announce') fresh.set(r.envelope.from, r.envelope.body as Manifest);
        }
        answered = true;
      } catch { /* a peer that cannot sync still relays gossip */ }
    }
    if (!answered) return;
    this.manifestMap = fresh;
    this.syncedAt = Date.now();
  }
}

/**
 * A job no node of the network could run is refused here, with the reason, rather than offered
 * until the timeout. Only when the manifests are known: with none, the offer goes out anyway.
 */
function refuseImpossible(manifests: Manifest[], model: string, maxTokens: number): void {
  if (manifests.length === 0) return;
  const serving = manifests.flatMap((m) => m.models.filter((x) => x.name === model));
  if (serving.length === 0) {
    const known = [...new Set(manifests.flatMap((m) => m.models.map((x) => x.name)))];
    throw new NoExecutorError(`no node serves model ${model} (the network serves: ${known.join(', ') || 'nothing'})`);
  }
  const largest = Math.max(...serving.map((x) => x.context_length));
  if (maxTokens >= largest) throw new NoExecutorError(`max_tokens ${maxTokens} does not fit the context of any node serving ${model} (largest: ${largest} tokens)`);
}

function firstModel(manifests: Manifest[]): string | undefined {
  const all = manifests.flatMap((m) => m.models);
  return (all.find((m) => !m.test_model) ?? all[0])?.name;
}

/** Publishes; resolves to how many peers it was sent to (0: nobody heard it). */
async function publish(node: NetworkNode, key: PrivateKey, me: string, topic: string, type: 'work_offer' | 'job_assign', body: object, v: string): Promise<number> {
  const env = await sealEnvelope(key, me, type, body as never, { now: Date.now(), v });
  const r = await node.services.pubsub.publish(topic, encodeEnvelope(env)).catch(() => ({ recipients: [] }));
  return r.recipients.length;
}

/**
 * The claims for one job, gathered for as long as the job is open: a claim that arrives late
 * is still there when the first executor fails.
 */
class ClaimBook {
  private readonly claims = new Map<string, JobClaimBody>();
  /** The topic each claim came on: its executor's shard, where the assignment goes. */
  private readonly topics = new Map<string, string>();
  private readonly inspector = createEnvelopeInspector({ supportedVersions: CLIENT_READS });
  private firstAt = 0;
  private lastOffer = 0;
  /** Wakes `next` when a claim arrives. */
  private wake?: () => void;
  private readonly onMessage = (e: CustomEvent<{ topic: string; data: Uint8Array }>) => {
    const topic = e.detail.topic;
    void this.inspector.open(e.detail.data, { now: Date.now() }).then((r) => {
      if (!r.ok || r.envelope.type !== 'job_claim') return;
      const c = (r.envelope as Envelope<'job_claim'>).body;
      if (c.job_id !== this.jobId || this.claims.has(c.executor)) return;
      this.claims.set(c.executor, c);
      this.topics.set(c.executor, topic);
      this.firstAt ||= Date.now();
      this.wake?.();
    });
  };

  /**
   * @param serving the peers known to serve the job's model: once all have claimed, no need to wait.
   * @param shunned executors that failed this client: their claims are taken only as a last resort.
   */
  constructor(
    private readonly node: NetworkNode, private readonly jobId: string, private readonly serving: ReadonlySet<string> = new Set(),
    private readonly shunned: (executor: string) => boolean = () => false,
  ) {
    node.services.pubsub.addEventListener('message', this.onMessage as never);
  }

  /** A shunned executor's claim counts once LAST_RESORT_MS passed since the first claim with no other taker. */
  private eligible(executor: string): boolean {
    return !this.shunned(executor) || Date.now() - this.firstAt >= LAST_RESORT_MS;
  }

  close(): void { this.node.services.pubsub.removeEventListener('message', this.onMessage as never); }

  /** The topic an executor's claim came on. */
  topicOf(executor: string): string | undefined { return this.topics.get(executor); }

  /** Drop an executor's claim (it refused the job for now); a new claim from it counts again. */
  forget(executor: string): void {
    this.claims.delete(executor);
    if (this.claims.size === 0) this.firstAt = 0;
  }

  /**
   * The claims from executors not tried yet, once it is time to choose among them: at once when
   * a claim can start now (a free slot, nothing queued) or every node known to serve the model
   * has claimed; otherwise once CLAIM_WINDOW_MS have passed since the first claim, so competitors
   * can answer. While there is none, the offer goes out again every
   * REOFFER_MS (same job id: nodes that claimed it do not claim twice), or within 50 ms when it
   * reached nobody. Undefined at the deadline; the signal's reason once aborted.
   */
  async next(tried: ReadonlySet<string>, offer: () => Promise<number>, deadline: number, signal?: AbortSignal): Promise<JobClaimBody[] | undefined> {
    let retryMs = REOFFER_MS;
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      const fresh = [...this.claims.values()].filter((c) => !tried.has(c.executor) && this.eligible(c.executor));
      const allIn = this.serving.size > 0 && [...this.serving].every((p) => tried.has(p) || this.claims.has(p));
      // The take-at-once rule, the simulator's own (claim-rule.ts): a claim that starts now.
      const startsNow = fresh.some((c) => takeAtOnce({ peer_id: c.executor, capacity: c.capacity, est_start_ms: c.est_start_ms }));
      if (fresh.length > 0 && (startsNow || allIn || Date.now() - this.firstAt >= CLAIM_WINDOW_MS)) {
        return fresh;
      }
      if (fresh.length === 0 && Date.now() - this.lastOffer >= retryMs) {
        retryMs = (await offer()) > 0 ? REOFFER_MS : 50;
        this.lastOffer = Date.now();
      }
      const waitMs = fresh.length > 0 ? Math.max(1, this.firstAt + CLAIM_WINDOW_MS - Date.now()) : Math.max(1, this.lastOffer + retryMs - Date.now());
      await new Promise<void>((resolve) => {
        const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
        const t = setTimeout(done, Math.min(waitMs, Math.max(1, deadline - Date.now())));
        this.wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
      this.wake = undefined;
    }
    return undefined;
  }
}

/** A new job stream to an executor, dialling it first at its manifest's addresses when not connected. */
async function openJobStream(node: NetworkNode, executor: string, manifests: Manifest[]): Promise<Stream> {
  const addrs: Multiaddr[] = (manifests.find((m) => m.peer_id === executor)?.addrs ?? [])
    .map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${executor}`));
  if (node.getConnections(peerIdFromString(executor)).length === 0 && addrs.length > 0) {
    await node.dial(addrs, { signal: AbortSignal.timeout(10_000) });
  }
  return node.dialProtocol(peerIdFromString(executor), JOB_PROTOCOL, { signal: AbortSignal.timeout(10_000), maxOutboundStreams: MAX_JOB_STREAMS });
}

/** Lines of a stream, its listeners attached now rather than at the first read. */
function readingNow(stream: Stream): AsyncIterable<unknown> {
  const lines = readLines(stream);
  const first = lines.next();
  // Never read when the job goes to another node (the stream is then aborted): not an unhandled rejection.
  first.catch(() => undefined);
  return (async function* () {
    const r = await first;
    if (r.done) return;
    yield r.value;
    yield* lines;
  })();
}

/** `sent`: the request went out already (ahead of the claim, see sendAhead), and these are the stream's lines. */
async function runOn(stream: Stream, executor: string, jobId: string, opts: JobOptions, deadline: number, sent?: AsyncIterable<unknown>): Promise<SubmitResult> {
  if (opts.signal?.aborted) stream.abort(opts.signal.reason as Error);
  opts.signal?.throwIfAborted();
  const timer = setTimeout(() => stream.abort(new Error('job timed out')), Math.max(1, deadline - Date.now()));
  // Closing the stream is how a client gives a job up: the executor cancels it.
  const giveUp = () => stream.abort(opts.signal!.reason as Error);
  opts.signal?.addEventListener('abort', giveUp, { once: true });
  if (opts.signal?.aborted) giveUp();
  // The lease: every frame renews it; an executor silent for leaseMs (hung, partitioned) loses the job.
  const leaseMs = opts.leaseMs ?? LEASE_MS;
  let lease = setTimeout(() => {}, 0);
  const renew = () => {
    clearTimeout(lease);
    lease = setTimeout(() => stream.abort(new Error(`lease expired: no word from the executor for ${leaseMs} ms`)), leaseMs);
  };
  try {
    renew();
    if (!sent) {
      await writeLine(stream, { job_id: jobId, prompt: opts.prompt });
      // Our side is said: close it, so the stream is freed once the executor closes its own (a
      // connection holds at most MAX_JOB_STREAMS of them; half-open ones count).
      await stream.close();
    }
    for await (const line of sent ?? readLines(stream)) {
      renew();
      const f = parseJobFrame(line);
      if (f.t === 'alive') continue;
      if (f.t === 'token') { opts.onToken?.(f.text); continue; }
      if (f.t === 'error' && f.retry) throw new BusyExecutorError(`executor ${executor} gave the job back (${f.reason}); offering the job again`);
      if (f.t === 'error') throw new JobFailedError(`executor ${executor} refused the job: ${f.reason}`, 'refused');
      const v = await verifyReceipt(f.receipt, { text: f.text, prompt: opts.prompt });
      if (!v.ok) throw new JobFailedError(`receipt from ${executor} failed verification: ${v.check}: ${v.reason}`, 'bad_receipt');
      if (v.receipt.body.job_id !== jobId) throw new JobFailedError(`receipt from ${executor} is for another job`, 'bad_receipt');
      if (v.receipt.from !== executor) throw new JobFailedError(`receipt signed by ${v.receipt.from}, not the executor ${executor}`, 'bad_receipt');
      return { text: f.text, receipt: v.receipt, executor };
    }
    throw new Error('job stream ended without a receipt');
  } finally {
    clearTimeout(timer);
    clearTimeout(lease);
    opts.signal?.removeEventListener('abort', giveUp);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
