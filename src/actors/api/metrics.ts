// GET /metrics: the Prometheus text exposition of what the actors answered at scrape time.
// Actors may run on other threads, so nothing is counted here: the scheduler, the network and
// the supervisor keep their own counters, and each scrape builds a fresh prom-client registry
// from their answers. A source that did not answer is left out and `mvp_metrics_source_up` says so.
import { RECORD_REFUSALS } from '../network/messages.ts';
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { DROP_REASONS } from '../../protocol/index.ts';
import type { ActorInfo } from '../../runtime/supervisor.ts';
import type { NetworkStatus } from '../network/messages.ts';
import { GUARD_DROP_REASONS } from '../../market/reputation.ts';
import type { HistogramSnapshot, SchedulerMetrics } from '../scheduler/messages.ts';
import type { ApiArgs } from './messages.ts';
import type { PullProgress } from '../network/messages.ts';
import type { StoreStatus } from '../../store/store.ts';

export interface MetricsSources {
  /** Undefined: the actor did not answer. */
  scheduler?: SchedulerMetrics;
  network?: NetworkStatus;
  actors?: readonly ActorInfo[];
  /** Model pulls in progress and recently ended (network.pulls). */
  pulls?: readonly PullProgress[];
  store?: StoreStatus;
}

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

const INFERENCE_PREFIX = 'inference:';
/** Refusal codes listed even at zero, so their series exist before the first refusal. */
const REFUSAL_CODES = ['unknown_model', 'invalid_job', 'queue_full', 'draining'];

/**
 * A histogram whose buckets were counted elsewhere (the scheduler's): prom-client's Histogram
 * only counts what it observes itself, so this hands the registry the finished series through
 * the same `get()` its own metrics implement.
 */
class CountedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: Array<{ labels: Record<string, string>; h: HistogramSnapshot }> = [];

  constructor(readonly name: string, readonly help: string) {}

  set(labels: Record<string, string>, h: HistogramSnapshot): void { this.series.push({ labels, h }); }

  async get() {
    const values = this.series.flatMap(({ labels, h }) => {
      let cumulative = 0;
      const buckets = h.counts.map((c, i) => {
        cumulative += c;
        return { metricName: `${this.name}_bucket`, labels: { ...labels, le: i < h.bounds.length ? h.bounds[i]! : '+Inf' }, value: cumulative };
      });
      return [
        ...buckets,
        { metricName: `${this.name}_sum`, labels, value: h.sum },
        { metricName: `${this.name}_count`, labels, value: h.count },
      ];
    });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** The exposition text of one scrape. */
export async function renderMetrics(node: ApiArgs, src: MetricsSources, now: number): Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers });
  const histogram = (name: string, help: string) => {
    const h = new CountedHistogram(name, help);
    registry.registerMetric(h as unknown as Metric);
    return h;
  };

  gauge('mvp_node_info', 'This node: its id and libp2p peer id (always 1)', ['node_id', 'peer_id']).set({ node_id: node.nodeId, peer_id: node.peerId }, 1);
  gauge('mvp_node_uptime_seconds', 'Seconds since the node started').set(Math.max(0, (now - node.startedAt) / 1000));
  const up = gauge('mvp_metrics_source_up', 'Whether an actor answered this scrape (1) or its figures are missing (0)', ['source']);
  up.set({ source: 'scheduler' }, src.scheduler ? 1 : 0);
  up.set({ source: 'network' }, src.network ? 1 : 0);
  up.set({ source: 'supervisor' }, src.actors ? 1 : 0);
  up.set({ source: 'store' }, src.store ? 1 : 0);

  const st = src.store;
  if (st) {
    if (st.size_bytes !== null) gauge('mvp_store_size_bytes', 'Bytes of the node\'s store on disk (<data_dir>/<node-id>/store)').set(st.size_bytes);
    gauge('mvp_store_receipts', 'Receipts in the ledger').set(st.receipts);
    gauge('mvp_store_jobs', 'Job history records in the store').set(st.jobs);
    gauge('mvp_store_writable', 'Whether the store\'s writes work (0: they fail, e.g. a full disk, and the node claims no job)').set(st.writable ? 1 : 0);
    counter('mvp_store_commits_total', 'Group commits since the store opened (each may hold many writes)').inc(st.commits);
    counter('mvp_store_synced_commits_total', 'Group commits fsynced (those holding a receipt or another durable write)').inc(st.synced_commits);
  }

  const s = src.scheduler;
  if (s) {
    gauge('mvp_queue_depth', 'Jobs waiting in this node\'s queue').set(s.queue.depth);
    gauge('mvp_queue_capacity', 'Most jobs the queue holds (executor.max_queue_size, or as the orchestrator resized it)').set(s.queue.capacity);
    gauge('mvp_slots_busy', 'Jobs generating now (one per busy context sequence)').set(s.queue.busy_slots);
    gauge('mvp_slots', 'Jobs this node can generate at once (context sequences of all its models)').set(s.queue.slots);
    const jobs = counter('mvp_jobs_total', 'Jobs ended on this node since the scheduler started, by model and status', ['model', 'status']);
    const tokensOut = counter('mvp_tokens_generated_total', 'Tokens generated since the scheduler started', ['model']);
    const tokensIn = counter('mvp_prompt_tokens_total', 'Prompt tokens evaluated since the scheduler started', ['model']);
    const ttft = histogram('mvp_inference_time_to_first_token_seconds', 'From a job getting its context sequence to its first token (prompt evaluation included)');
    const duration = histogram('mvp_inference_duration_seconds', 'From a job getting its context sequence to the end of its generation');
    for (const [model, m] of Object.entries(s.models)) {
      for (const [status, n] of Object.entries(m.jobs)) jobs.inc({ model, status }, n);
      tokensOut.inc({ model }, m.tokens_out);
      tokensIn.inc({ model }, m.tokens_in);
      ttft.set({ model }, m.first_token_seconds);
      duration.set({ model }, m.duration_seconds);
    }
    const refused = counter('mvp_jobs_refused_total', 'Submissions refused at once since the scheduler started, by reason', ['reason']);
    for (const reason of new Set([...REFUSAL_CODES, ...Object.keys(s.refused)])) refused.inc({ reason }, s.refused[reason] ?? 0);
  }

  const n = src.network;
  if (n) {
    gauge('mvp_peers_connected', 'Peers with an open connection').set(n.peers);
    gauge('mvp_peers_known', 'Peers in the peer table (heard from within the heartbeat timeout)').set(n.known);
    counter('mvp_gossip_messages_received_total', 'Gossip messages handed to this node (= accepted + duplicates + dropped)').inc(n.received);
    counter('mvp_gossip_messages_accepted_total', 'Gossip messages that passed inspection').inc(n.accepted);
    counter('mvp_gossip_messages_duplicate_total', 'Gossip copies of announces that manifest sync brought first').inc(n.duplicates);
    counter('mvp_gossip_messages_published_total', 'Gossip messages this node published').inc(n.published);
    const deliveries = counter('mvp_gossip_deliveries_total', 'Gossip messages handed to this node, by topic (a model\'s offer topics reach its holders only)', ['topic']);
    for (const [topic, k] of Object.entries(n.deliveries ?? {})) deliveries.inc({ topic }, k);
    const dropped = counter('mvp_gossip_messages_dropped_total', 'Gossip messages dropped, by reason', ['reason']);
    const counts: Record<string, number | undefined> = n.dropped;
    for (const reason of new Set([...DROP_REASONS, ...GUARD_DROP_REASONS, ...Object.keys(counts)])) dropped.inc({ reason }, counts[reason] ?? 0);
    const syncDropped = counter('mvp_sync_announces_dropped_total', 'Announces brought by manifest sync that failed inspection, by reason', ['reason']);
    for (const [reason, k] of Object.entries(n.sync_dropped)) syncDropped.inc({ reason }, k ?? 0);
    const rep = n.reputation;
    const score = gauge('mvp_peer_reputation_score', 'This node\'s score for the peers it holds offences against (the 100 lowest; 0 is neutral)', ['peer_id']);
    for (const p of rep.suspects) score.set({ peer_id: p.peer_id }, p.score);
    gauge('mvp_peers_claims_refused', 'Peers whose score is below the threshold under which their job claims are dropped')
      .set(rep.claims_refused);
    const offences = counter('mvp_peer_offences_total', 'Offences by peers since the network actor started, by kind', ['offence']);
    for (const [offence, k] of Object.entries(rep.offences)) offences.inc({ offence }, k);
    gauge('mvp_swarm_private', 'Whether this node is in a private swarm (network.swarm_key set: 1)').set(n.swarm.private ? 1 : 0);
    counter('mvp_swarm_key_mismatches_total', 'Handshakes that failed right after the swarm key exchange since the network actor started: suspected swarm key mismatches')
      .inc(n.swarm.suspected_key_mismatches);
    if (n.dht) {
      const d = n.dht;
      const refusedRecords = counter('mvp_dht_receipt_records_refused_total', 'Receipt records the DHT validator refused (forged, altered, under another job\'s key…), by reason', ['reason']);
      for (const reason of new Set([...RECORD_REFUSALS, ...Object.keys(d.records_refused)])) refusedRecords.inc({ reason }, (d.records_refused as Record<string, number | undefined>)[reason] ?? 0);
      counter('mvp_dht_receipts_put_total', 'Receipts this node put in the DHT (its own, and again after connectivity came back)').inc(d.receipts_put);
      counter('mvp_dht_receipt_puts_unstored_total', 'Receipt puts that no peer took (put again when connectivity returns)').inc(d.receipts_put_failed);
      counter('mvp_dht_receipt_lookups_total', 'Receipt lookups by job id that went to the DHT').inc(d.receipt_lookups);
      counter('mvp_dht_receipt_lookups_found_total', 'Receipt lookups that found the receipt').inc(d.receipt_lookups_found);
      counter('mvp_dht_provider_lookups_total', 'Model provider lookups in the DHT').inc(d.provider_lookups);
      if (d.routing_table !== undefined) gauge('mvp_dht_routing_table_peers', 'Peers in the DHT routing table').set(d.routing_table);
    }
    gauge('mvp_draining', 'Whether the node is draining (SIGTERM or POST /drain): 1, it claims no more jobs').set(n.draining ? 1 : 0);
    const t = n.model_transfer;
    counter('mvp_model_chunks_served_total', 'Model file chunks sent to peers (/mvp/model/1.0.0)').inc(t.chunks_served);
    counter('mvp_model_bytes_served_total', 'Model file bytes sent to peers').inc(t.bytes_served);
    counter('mvp_model_chunk_requests_refused_total', 'Chunk requests refused: not shared, unknown file, or over the peer\'s rate').inc(t.refused);
    gauge('mvp_model_files_shared', 'Model files this node serves to peers, hashed and ready').set(t.files_ready);
  }

  if (src.pulls) {
    const size = gauge('mvp_model_pull_bytes', 'Size of a model file being pulled, or pulled lately, by sha256', ['sha256', 'state']);
    const done = gauge('mvp_model_pull_bytes_done', 'Verified bytes of a model pull, by sha256', ['sha256', 'state']);
    for (const p of src.pulls) {
      size.set({ sha256: p.sha256, state: p.state }, p.size);
      done.set({ sha256: p.sha256, state: p.state }, p.bytes_done);
    }
  }

  const actors = src.actors;
  if (actors) {
    const running = gauge('mvp_actor_up', 'Whether a supervised actor is running (1) or starting, restarting or stopped (0)', ['actor']);
    const restarts = counter('mvp_actor_restarts_total', 'Restarts of a supervised actor (after a crash, or on request)', ['actor']);
    const crashes = counter('mvp_actor_crashes_total', 'Crashes of a supervised actor (killed on purpose included)', ['actor']);
    const loaded = gauge('mvp_model_loaded', 'Whether a served model is loaded (its inference actor is ready)', ['model']);
    for (const a of actors) {
      running.set({ actor: a.name }, a.status === 'running' ? 1 : 0);
      restarts.inc({ actor: a.name }, a.restarts);
      crashes.inc({ actor: a.name }, a.crashes);
      if (a.name.startsWith(INFERENCE_PREFIX)) {
        loaded.set({ model: a.name.slice(INFERENCE_PREFIX.length) }, a.status === 'running' && a.state === 'ready' ? 1 : 0);
      }
    }
  }
  return registry.metrics();
}
