// The orchestrator actor: an Orchestrator (orchestrator.ts) wired to the node.
// starting: loads the model if `orchestrator.model_path` is set (a file that fails the checks,
// or a device that is not present, crashes the actor at start, which stops the node) and opens
// the training data file; running: answers decisions, `ask`, confirm/reject, metrics, status,
// export. Accepted actions are carried out by the actors that own them: scale_queue by the
// scheduler (`scheduler.set_capacity`), adjust_gossip by the network (`network.adjust_gossip`);
// start_election and migrate_context by the consensus actor (actions.ts: a migrate_context is
// resolved to a model and a target peer before the safety gate judges it).
import { join } from 'node:path';
import { setup } from 'xstate';
import { defineActor, type ActorContext } from '../../runtime/actor.ts';
import { SUPERVISOR } from '../../runtime/supervisor.ts';
import { lifecycle, type ChangedEvent } from '../../runtime/lifecycle.ts';
import type { ActorAddress, Inbox, NoExtra, ReplyIn, RequestOf, RequestsIn } from '../../runtime/protocol.ts';
import type { NetworkStatus, PeerSummary } from '../network/messages.ts';
import type { ReceiptEnvelope } from '../../market/receipts.ts';
import type { SchedulerStatus } from '../scheduler/messages.ts';
import type { Decision } from '../../decide/heuristics.ts';
import { LlmEngine } from './llm.ts';
import { executeConsensusAction, resolveDecision } from './actions.ts';
import type { Manifest } from '../../protocol/index.ts';
import type { PeerManifest } from '../network/messages.ts';
import { MetricsGatherer } from '../../decide/metrics.ts';
import { Orchestrator, type NodeQuery } from './orchestrator.ts';
import { TRAINING_FILE, TrainingStore } from './training.ts';
import { EXPORT_FORMATS, InvalidDecisionRequestError, OWNER_TIMEOUT_MS, type ExecutionResult, type OrchestratorProtocol } from './messages.ts';

export { RECENT_LIMIT } from './messages.ts';

/** Start arguments (ChildSpec.args). Absent (tests): no training data is kept. */
export interface OrchestratorArgs {
  /** The node's directory (`<data_dir>/<node-id>`); training data goes to its `orchestrator/`. '' : none. */
  dataDir: string;
  nodeId: string;
}

function executor(ctx: Pick<ActorContext, 'request'>) {
  return async (d: Decision): Promise<ExecutionResult> => {
    switch (d.action) {
      case 'scale_queue': {
        const capacity = d.params.capacity as number;
        const before = await ctx.request('scheduler', { type: 'scheduler.status' }, OWNER_TIMEOUT_MS);
        const after = await ctx.request('scheduler', { type: 'scheduler.set_capacity', capacity }, OWNER_TIMEOUT_MS);
        return { ok: true, detail: `queue capacity ${before.capacity} → ${after.capacity}`, result: after };
      }
      case 'adjust_gossip': {
        const r = await ctx.request('network',
          { type: 'network.adjust_gossip', heartbeat_factor: d.params.heartbeat_factor as number }, OWNER_TIMEOUT_MS);
        return { ok: true, detail: `heartbeat every ${r.heartbeat_ms} ms (was ${r.previous_ms} ms)`, result: r };
      }
      case 'wait':
        return { ok: true, detail: 'nothing to change' };
      default:
        return await executeConsensusAction(ctx, d) ?? { ok: false, detail: `not available: no actor carries out ${d.action}` };
    }
  };
}

/** How many recent jobs the queue_status answer of `ask` lists. */
export const RECENT_JOBS = 5;

function questions(ctx: Pick<ActorContext, 'request'>) {
  const ask = <N extends ActorAddress, const M extends RequestOf<N>>(to: N, msg: M & NoExtra<M, RequestOf<N>>) => ctx.request(to, msg, OWNER_TIMEOUT_MS);
  const quiet = <T>(p: Promise<T>) => p.catch(() => null);
  return async (q: NodeQuery): Promise<unknown> => {
    switch (q) {
      case 'list_peers':
        return ask('network', { type: 'network.peers' });
      case 'network_status':
        return ask('network', { type: 'network.status' });
      case 'queue_status': {
        // Jobs: the latest receipts this node accepted (jobs it ran, and jobs it heard of).
        const [queue, receipts] = await Promise.all([
          ask('scheduler', { type: 'scheduler.status' }),
          quiet(ask('network', { type: 'network.receipts', limit: RECENT_JOBS })),
        ]);
        const jobs = (receipts ?? []).map((r) => ({
          job_id: r.body.job_id, executor: r.body.executor, model: r.body.model, status: r.body.status, tokens_out: r.body.tokens_out, finished_at: r.body.finished_at,
        }));
        return { queue, recent_jobs: jobs };
      }
      case 'node_status': {
        const [network, queue, actors] = await Promise.all([
          quiet(ask('network', { type: 'network.status' })),
          quiet(ask('scheduler', { type: 'scheduler.status' })),
          quiet(ask(SUPERVISOR, { type: 'supervisor.actors' })),
        ]);
        return {
          node_id: network?.node_id ?? null, peer_id: network?.peer_id ?? null, peers: network?.peers ?? null, known_peers: network?.known ?? null,
          queue: queue ? { depth: queue.depth, capacity: queue.capacity, busy_slots: queue.busy_slots, slots: queue.slots } : null,
          actors: actors ? Object.fromEntries(actors.map((a) => [a.name, a.status === 'running' ? a.state : a.status])) : null,
        };
      }
      case 'list_models': {
        const [queue, peers] = await Promise.all([
          quiet(ask('scheduler', { type: 'scheduler.status' })),
          quiet(ask('network', { type: 'network.peers' })),
        ]);
        return {
          local: queue?.models ?? [],
          peers: (peers ?? []).filter((p) => p.models.length > 0).map((p) => ({ peer_id: p.peer_id, node_id: p.node_id ?? null, models: p.models })),
        };
      }
    }
  };
}

export default defineActor<OrchestratorArgs | undefined, OrchestratorProtocol>({
  machine: (ctx) => {
    const cfg = ctx.config.orchestrator;
    const dir = ctx.args?.dataDir ? join(ctx.args.dataDir, 'orchestrator') : undefined;
    let orch: Orchestrator | undefined;
    /** Set below: a held decision expired, the state may change. */
    let expired = () => {};

    async function start(): Promise<void> {
      let llm: LlmEngine | undefined;
      if (cfg.model_path) {
        llm = await LlmEngine.load({ config: cfg });
        ctx.own(() => llm!.dispose());
        ctx.log.info({ ...llm.info }, `Orchestrator model loaded on ${llm.info.device}`);
      }
      let training: TrainingStore | undefined;
      if (cfg.training.collect_data && dir) {
        training = await TrainingStore.open({
          dir, nodeId: ctx.args!.nodeId, exportPath: cfg.training.export_path, autoExportThreshold: cfg.training.auto_export_threshold,
          clock: ctx.clock, log: ctx.log,
        });
        ctx.own(() => training!.close());
      }
      const gatherer = new MetricsGatherer(ctx);
      const o = new Orchestrator({
        config: ctx.config, clock: ctx.clock, log: ctx.log, nodeId: ctx.args?.nodeId ?? ctx.name,
        metrics: () => gatherer.gather(),
        execute: executor(ctx),
        onExpired: () => expired(),
        resolve: (d, context) => resolveDecision(d, context, {
          manifest: () => ctx.request('network', { type: 'network.manifest' }, OWNER_TIMEOUT_MS),
          peers: () => ctx.request('network', { type: 'network.manifests' }, OWNER_TIMEOUT_MS),
        }),
        query: questions(ctx),
        ...(llm ? { llm } : {}),
        ...(training ? { training } : dir ? { trainingFile: join(dir, TRAINING_FILE) } : {}),
      });
      // Released before the training file and the model (ctx.own runs in reverse order).
      ctx.own(() => o.close());
      orch = o;
    }

    // States: starting (loading the model, opening the training file) → idle ⇄ deciding (a
    // decide, ask or confirm is being worked on) and awaiting_confirmation (nothing in the works,
    // but decisions are held for an operator); failed (could not start). The state is derived
    // from what the orchestrator holds, after every event and whenever work ends (life.poke).
    const life = lifecycle(ctx, start);
    let working = 0;
    const phase = (): 'deciding' | 'awaiting_confirmation' | 'idle' =>
      working > 0 ? 'deciding' : (orch?.heldCount ?? 0) > 0 ? 'awaiting_confirmation' : 'idle';
    expired = life.poke;
    /** Answers `event` with what `work` gives (typed by the protocol), or with its error. */
    const serve = <E extends RequestsIn<OrchestratorProtocol> & { replyTo: string }>(
      event: E, work: (o: Orchestrator) => Promise<ReplyIn<OrchestratorProtocol, E['type']>> | ReplyIn<OrchestratorProtocol, E['type']>, decides = false,
    ) => {
      if (decides) working++;
      Promise.resolve().then(() => work(orch!)).then(
        (r) => ctx.answer(event, r),
        (err: unknown) => ctx.replyError(event.replyTo, err),
      ).finally(() => { if (decides) { working--; life.poke(); } });
    };
    const to = (target: ReturnType<typeof phase>) => ({ guard: () => phase() === target, target });

    return setup({
      types: { events: {} as Inbox<OrchestratorProtocol> | ChangedEvent },
      actors: life.actors,
      actions: life.actions,
    }).createMachine({
      id: 'orchestrator',
      initial: 'starting',
      output: life.output,
      invoke: { src: 'changes' },
      states: {
        starting: life.starting('idle'),
        idle: { always: [to('deciding'), to('awaiting_confirmation')] },
        deciding: { always: [to('idle'), to('awaiting_confirmation')] },
        awaiting_confirmation: { always: [to('deciding'), to('idle')] },
        failed: life.failed,
      },
      on: {
        'orchestrator.decide': {
          actions: ({ event }) => serve(event, (o) => o.makeDecision(event.context, event.decision_type, event.metrics ? { metrics: event.metrics } : {}), true),
        },
        'orchestrator.ask': { actions: ({ event }) => serve(event, (o) => o.ask(event.text), true) },
        'orchestrator.confirm': { actions: ({ event }) => serve(event, (o) => o.confirm(event.id), true) },
        'orchestrator.reject': { actions: ({ event }) => serve(event, (o) => o.reject(event.id, event.reason)) },
        'orchestrator.recent': { actions: ({ event }) => serve(event, (o) => ({ decisions: o.recent(event.limit) })) },
        'orchestrator.get': { actions: ({ event }) => serve(event, (o) => o.get(event.id)) },
        'orchestrator.interpret': { actions: ({ event }) => serve(event, (o) => o.interpretNaturalLanguage(event.text)) },
        'orchestrator.metrics': { actions: ({ event }) => serve(event, (o) => o.metrics()) },
        'orchestrator.status': { actions: ({ event }) => serve(event, (o) => o.status()) },
        'orchestrator.export': {
          actions: ({ event }) => serve(event, (o) => {
            if (!EXPORT_FORMATS.includes(event.format)) throw new InvalidDecisionRequestError(`format must be one of ${EXPORT_FORMATS.join(', ')}; got ${String(event.format)}`);
            return o.exportData(event.format);
          }),
        },
      },
    });
  },
});
