// The consensus actor of DESIGN.md §6 (first subset): every few seconds it refreshes its LOCAL
// view — members from the network's peer table, its own affinity, the coordinator it would pick
// for the configured mode. No gossip of affinities and no consensus rounds yet.
import { setup } from 'xstate';
import { defineActor } from '../../runtime/actor.ts';
import type { NetworkStatus, PeerSummary, QueueStatus } from '../network/messages.ts';
import { hostLoad } from '../orchestrator/metrics.ts';
import type { AffinityInput } from './affinity.ts';
import { buildLocalView, type ConsensusView, type NodeRef } from './view.ts';
import type { ConsensusArgs, ConsensusIn } from './messages.ts';

/**
 * The local view refreshes at heartbeat pace (a third of the heartbeat timeout, 5 s by
 * default): membership cannot change faster than liveness is known, and each refresh copies the
 * whole peer list, which in a many-node simulation is N² work per period.
 */
export function refreshMs(heartbeatTimeoutSecs: number): number {
  return Math.max(1000, (heartbeatTimeoutSecs * 1000) / 3);
}
export const REQUEST_TIMEOUT_MS = 1000;

export default defineActor<ConsensusArgs | undefined>({
  machine: (ctx) => {
    const cfg = ctx.config.distributed_orchestration;
    const startedAt = ctx.clock.now();
    const path = ctx.config.model.path;
    // Models this node serves, as configured (the network status does not list them).
    const modelsHeld = path === undefined ? 0 : typeof path === 'string' ? 1 : path.length;
    // Who we are until the network answers (it knows the node_id derived from the key): the
    // configured node_id, or the placeholder 'local'.
    const configuredSelf: NodeRef = { node_id: ctx.config.node.node_id ?? 'local' };

    const observe = (self: NodeRef, figures: AffinityInput, peers: readonly PeerSummary[], missing: string[]) => ({
      now: ctx.clock.now(), enabled: cfg.enabled, mode: cfg.mode, self, self_figures: figures, peers,
      member_timeout_ms: cfg.heartbeat_timeout_secs * 1000, sources_missing: missing,
    });
    const opts = { fixed: ctx.args?.permanent_coordinator };
    // Before the first refresh: only what this node knows without asking anyone.
    let view: ConsensusView = buildLocalView(
      observe(configuredSelf, { ...hostLoad(), uptime_s: 0, models_held: modelsHeld }, [], ['network', 'scheduler']), undefined, opts);
    let inFlight: Promise<ConsensusView> | undefined;

    async function refreshOnce(): Promise<ConsensusView> {
      const [status, peers, queue] = await Promise.allSettled([
        ctx.request<NetworkStatus>('network', { type: 'network.status' }, REQUEST_TIMEOUT_MS),
        ctx.request<PeerSummary[]>('network', { type: 'network.peers' }, REQUEST_TIMEOUT_MS),
        ctx.request<QueueStatus>('scheduler', { type: 'scheduler.status' }, REQUEST_TIMEOUT_MS),
      ]);
      const missing: string[] = [];
      if (status.status === 'rejected' || peers.status === 'rejected') missing.push('network');
      if (queue.status === 'rejected') missing.push('scheduler');
      const self: NodeRef = status.status === 'fulfilled'
        ? { node_id: status.value.node_id, peer_id: status.value.peer_id } : configuredSelf;
      const figures: AffinityInput = {
        ...hostLoad(),
        uptime_s: (ctx.clock.now() - startedAt) / 1000, // this actor's uptime: restarts reset it
        models_held: modelsHeld,
        ...(queue.status === 'fulfilled' ? { queue_depth: queue.value.depth, queue_capacity: queue.value.capacity } : {}),
        ...(status.status === 'fulfilled' ? { peers_connected: status.value.peers } : {}),
      };
      const before = view.coordinator?.node_id;
      view = buildLocalView(observe(self, figures, peers.status === 'fulfilled' ? peers.value : [], missing), view, opts);
      if (view.coordinator?.node_id !== before) {
        ctx.log.info({ mode: view.mode, coordinator: view.coordinator ?? null, previous: before ?? null, members: view.members },
          'Coordinator changed (local view)');
      }
      return view;
    }

    const refresh = (): Promise<ConsensusView> => {
      if (!cfg.enabled) return Promise.resolve(view);
      inFlight ??= refreshOnce().finally(() => { inFlight = undefined; });
      return inFlight;
    };
    const tick = () => { refresh().catch((err) => ctx.log.warn({ err }, 'Consensus refresh failed')); };

    return setup({ types: { events: {} as ConsensusIn } }).createMachine({
      id: 'consensus',
      initial: 'running',
      states: {
        running: {
          entry: () => {
            if (cfg.enabled) {
              const timer = ctx.clock.setInterval(tick, refreshMs(ctx.config.distributed_orchestration.heartbeat_timeout_secs));
              ctx.own(() => ctx.clock.clearInterval(timer));
              tick();
            }
            ctx.ready();
          },
          on: {
            'consensus.status': { actions: ({ event }) => ctx.reply(event.replyTo, view) },
            'consensus.refresh': {
              actions: ({ event }) => { refresh().then((v) => ctx.reply(event.replyTo, v), (err) => ctx.replyError(event.replyTo, err)); },
            },
          },
        },
      },
    });
  },
});
