// Where the orchestrator's metrics snapshot comes from: the network, scheduler and supervisor
// (each asked with a timeout, each may fail alone) and this host's load. The snapshot is what
// the heuristics test, what the model's prompt shows, and what the cache buckets.
import { availableParallelism, freemem, loadavg } from 'node:os';
import type { ActorContext } from '../runtime/actor.ts';
import { SUPERVISOR, type ActorInfo, type SupervisorRequest } from '../runtime/supervisor.ts';
import type { NetworkStatus } from '../actors/network/messages.ts';
import type { QueueStatus } from '../actors/scheduler/messages.ts';
import type { MetricsSnapshot } from './heuristics.ts';

export const METRICS_TIMEOUT_MS = 1000;

/** CPU load per core (1-minute load average / cores) and free memory of this machine. */
export interface HostLoad { cpu: number; mem_free_mb: number }

export function hostLoad(): HostLoad {
  return { cpu: loadavg()[0]! / Math.max(1, availableParallelism()), mem_free_mb: freemem() / 2 ** 20 };
}

export interface GatheredMetrics {
  metrics: MetricsSnapshot;
  /** Sources that did not answer; their figures are the stated fallbacks. */
  missing: Array<'network' | 'scheduler' | 'supervisor'>;
}

const sum = (o: Partial<Record<string, number>> | undefined) => Object.values(o ?? {}).reduce<number>((s, v) => s + (v ?? 0), 0);

/**
 * Gathers snapshots for one orchestrator. Fallbacks: no network answer → 0 peers (we cannot
 * show any), no latency; no scheduler answer → an empty queue of executor.max_queue_size.
 *
 * `failures_recent` = actor crashes + gossip and sync messages dropped by inspection since the
 * previous snapshot (0 for the first one); `latency_ms` = the median round trip to connected
 * peers as libp2p's connection monitor last measured it (absent when none is measured).
 */
export class MetricsGatherer {
  private previousFailures?: number;

  constructor(private readonly ctx: Pick<ActorContext, 'request' | 'config'>) {}

  async gather(): Promise<GatheredMetrics> {
    const { ctx } = this;
    const [net, sched, actors] = await Promise.allSettled([
      ctx.request('network', { type: 'network.status' }, METRICS_TIMEOUT_MS),
      ctx.request('scheduler', { type: 'scheduler.status' }, METRICS_TIMEOUT_MS),
      ctx.request(SUPERVISOR, { type: 'supervisor.actors' } satisfies SupervisorRequest, METRICS_TIMEOUT_MS),
    ]);
    const missing: GatheredMetrics['missing'] = [];
    if (net.status === 'rejected') missing.push('network');
    if (sched.status === 'rejected') missing.push('scheduler');
    if (actors.status === 'rejected') missing.push('supervisor');
    const q = sched.status === 'fulfilled' ? sched.value : { depth: 0, capacity: ctx.config.executor.max_queue_size };
    const metrics: MetricsSnapshot = {
      queue_depth: q.depth,
      queue_capacity: q.capacity,
      ...hostLoad(),
      peers: net.status === 'fulfilled' ? net.value.peers : 0,
    };
    if (net.status === 'fulfilled' && typeof net.value.rtt_ms === 'number') metrics.latency_ms = net.value.rtt_ms;
    if (net.status === 'fulfilled' || actors.status === 'fulfilled') {
      const total = (net.status === 'fulfilled' ? sum(net.value.dropped) + sum(net.value.sync_dropped) : 0)
        + (actors.status === 'fulfilled' ? actors.value.reduce((s, a) => s + a.crashes, 0) : 0);
      metrics.failures_recent = this.previousFailures === undefined ? 0 : Math.max(0, total - this.previousFailures);
      this.previousFailures = total;
    }
    return { metrics, missing };
  }
}

/** A snapshot without a node: this host's load and an empty queue of the configured size. */
export function localMetrics(maxQueueSize: number): GatheredMetrics {
  return {
    metrics: { queue_depth: 0, queue_capacity: maxQueueSize, ...hostLoad(), peers: 0 },
    missing: ['network', 'scheduler', 'supervisor'],
  };
}
