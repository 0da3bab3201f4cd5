// The orchestrator actor: an Orchestrator (orchestrator.ts) wired to the node.
// starting: loads the model if `orchestrator.model_path` is set (a file that fails the checks,
// or a device that is not present, crashes the actor at start, which stops the node) and opens
// the training data file; running: answers decisions, `ask`, confirm/reject, metrics, status,
// export. Accepted actions are carried out by the actors that own them: scale_queue by the
// scheduler (`scheduler.set_capacity`), adjust_gossip by the network (`network.adjust_gossip`);
// start_election and migrate_context are refused "not available" until the consensus actor
// implements them (safety.ts, UNAVAILABLE_ACTIONS).
import { join } from 'node:path';
import { fromPromise, setup } from 'xstate';
import { defineActor, type ActorContext } from '../../runtime/actor.ts';
import { SUPERVISOR } from '../../runtime/supervisor.ts';
import type { ActorAddress, NoExtra, RequestOf } from '../../runtime/protocol.ts';
import type { NetworkStatus, PeerSummary } from '../network/messages.ts';
import type { ReceiptEnvelope } from '../../market/receipts.ts';
import type { SchedulerStatus } from '../scheduler/messages.ts';
import type { Decision } from './heuristics.ts';
import { LlmEngine } from './llm.ts';
import { MetricsGatherer } from './metrics.ts';
import { Orchestrator, type NodeQuery } from './orchestrator.ts';
import { TRAINING_FILE, TrainingStore } from './training.ts';
import { EXPORT_FORMATS, InvalidDecisionRequestError, OWNER_TIMEOUT_MS, type ExecutionResult, type OrchestratorIn, type OrchestratorRequest } from './messages.ts';

export { RECENT_LIMIT } from './messages.ts';

/** Start arguments (ChildSpec.args). Absent (tests): no training data is kept. */
export interface OrchestratorArgs {
  /** The node's directory (`<data_dir>/<node-id>`); training data goes to its `orchestrator/`. '' : none. */
  dataDir: string;
  nodeId: string;
}

function executor(ctx: ActorContext<unknown>) {
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
        // The safety gate refuses these before execution; reaching here is a bug.
        return { ok: false, detail: `not available: no actor carries out ${d.action} yet` };
    }
  };
}

/** How many recent jobs the queue_status answer of `ask` lists. */
export const RECENT_JOBS = 5;

function questions(ctx: ActorContext<unknown>) {
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

async function answer(orch: Orchestrator, req: OrchestratorRequest): Promise<unknown> {
  switch (req.type) {
    case 'orchestrator.decide': return orch.makeDecision(req.context, req.decision_type, req.metrics ? { metrics: req.metrics } : {});
    case 'orchestrator.recent': return { decisions: orch.recent(req.limit) };
    case 'orchestrator.get': return orch.get(req.id);
    case 'orchestrator.ask': return orch.ask(req.text);
    case 'orchestrator.interpret': return orch.interpretNaturalLanguage(req.text);
    case 'orchestrator.confirm': return orch.confirm(req.id);
    case 'orchestrator.reject': return orch.reject(req.id, req.reason);
    case 'orchestrator.metrics': return orch.metrics();
    case 'orchestrator.status': return orch.status();
    case 'orchestrator.export':
      if (!EXPORT_FORMATS.includes(req.format)) throw new InvalidDecisionRequestError(`format must be one of ${EXPORT_FORMATS.join(', ')}; got ${String(req.format)}`);
      return orch.exportData(req.format);
  }
  throw new InvalidDecisionRequestError(`unknown request ${String((req as { type: unknown }).type)}`);
}

export default defineActor<OrchestratorArgs | undefined>({
  machine: (ctx) => {
    const cfg = ctx.config.orchestrator;
    const dir = ctx.args?.dataDir ? join(ctx.args.dataDir, 'orchestrator') : undefined;
    let orch: Orchestrator | undefined;

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
      const gatherer = new MetricsGatherer(ctx as ActorContext<unknown>);
      const o = new Orchestrator({
        config: ctx.config, clock: ctx.clock, log: ctx.log, nodeId: ctx.args?.nodeId ?? ctx.name,
        metrics: () => gatherer.gather(),
        execute: executor(ctx as ActorContext<unknown>),
        query: questions(ctx as ActorContext<unknown>),
        ...(llm ? { llm } : {}),
        ...(training ? { training } : dir ? { trainingFile: join(dir, TRAINING_FILE) } : {}),
      });
      // Released before the training file and the model (ctx.own runs in reverse order).
      ctx.own(() => o.close());
      orch = o;
    }

    return setup({
      types: { events: {} as OrchestratorIn },
      actors: { start: fromPromise(start) },
      actions: {
        ready: () => ctx.ready(),
        fail: (_, params: { error: unknown }) => { throw params.error; },
      },
    }).createMachine({
      id: 'orchestrator',
      initial: 'starting',
      states: {
        starting: {
          invoke: {
            src: 'start',
            onDone: { target: 'running', actions: 'ready' },
            onError: { actions: { type: 'fail', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        running: {
          on: {
            '*': {
              actions: ({ event }) => {
                if (typeof event.type !== 'string' || !event.type.startsWith('orchestrator.') || !event.replyTo) return;
                const { replyTo, from: _from, ...req } = event;
                answer(orch!, req as OrchestratorRequest).then((r) => ctx.reply(replyTo, r), (err) => ctx.replyError(replyTo, err));
              },
            },
          },
        },
      },
    });
  },
});
