// Where the orchestrator's metrics snapshot comes from when the caller gives none: the network
// and scheduler actors (asked, with a timeout) and this host's load. Each source may fail alone.
import { availableParallelism, freemem, loadavg } from 'node:os';
import type { ActorContext } from '../../runtime/actor.ts';
import type { NetworkStatus, QueueStatus } from '../network/messages.ts';
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
  missing: Array<'network' | 'scheduler'>;
}

/**
 * Fallbacks: no network answer → 0 peers (we cannot show any); no scheduler answer → an empty
 * queue of the configured executor.max_queue_size.
 */
export async function gatherMetrics(ctx: ActorContext<unknown>): Promise<GatheredMetrics> {
  const [net, sched] = await Promise.allSettled([
    ctx.request<NetworkStatus>('network', { type: 'network.status' }, METRICS_TIMEOUT_MS),
    ctx.request<QueueStatus>('scheduler', { type: 'scheduler.status' }, METRICS_TIMEOUT_MS),
  ]);
  const missing: GatheredMetrics['missing'] = [];
  if (net.status === 'rejected') missing.push('network');
  if (sched.status === 'rejected') missing.push('scheduler');
  const q = sched.status === 'fulfilled' ? sched.value : { depth: 0, capacity: ctx.config.executor.max_queue_size };
  return {
    metrics: {
      queue_depth: q.depth,
      queue_capacity: q.capacity,
      ...hostLoad(),
      peers: net.status === 'fulfilled' ? net.value.peers : 0,
    },
    missing,
  };
}
