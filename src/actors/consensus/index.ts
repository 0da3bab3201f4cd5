// The consensus actor: it runs this node's orchestration
// core (core.ts) on the real clock and the real gossip. The network actor hands it heartbeats
// and mvp/1/orch messages; it hands the network what the core wants gossiped and the summary
// our heartbeats carry. Every few seconds it re-reads the node's figures (scheduler, network,
// host, receipts) into its affinity. consensus.decide is makeDistributedDecision (router.ts).
// The election ledger is in the node's store (value `orchestration`, fsynced) before any vote
// that depends on it leaves, so a restarted actor cannot vote twice in one epoch (simulations
// keep it in memory).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fromCallback, setup } from 'xstate';
import { defineActor } from '../../runtime/actor.ts';
import { lifecycle } from '../../runtime/lifecycle.ts';
import type { NetworkStatus } from '../network/messages.ts';
import type { SchedulerStatus } from '../scheduler/messages.ts';
import type { ReceiptEnvelope } from '../../market/receipts.ts';
import { MetricsGatherer, hostLoad } from '../../decide/metrics.ts';
import type { MetricsSnapshot } from '../orchestrator/messages.ts';
import type { OrchMessageType, OrchSummary } from '../../protocol/index.ts';
import { affinityScore, type AffinityInput } from './affinity.ts';
import { DistributedOrchestratorConfig } from './config.ts';
import { OrchestrationCore, type CoreEvent, type Durable } from './core.ts';
import type { ConsensusResult, ProposalInput } from './decisions.ts';
import { demandOf, Replicator, type DemandEntry } from './replicator.ts';
import type { JobRecord } from '../scheduler/messages.ts';
import { DECISION_TYPES, DistributedOrchestrator, type DecisionType, type DistributedDecision } from './router.ts';
import { seededRandom } from './threshold.ts';
import { ModelControl } from '../../node/model-control.ts';
import type { ModelRequestBody } from '../../protocol/index.ts';
import { ModelMover } from './replication.ts';
import { startElection } from './elect.ts';
import { SWARM } from './groups.ts';
import { consensusStatus } from './status.ts';
import { ConsensusUnavailableError, type ConsensusArgs, type ConsensusProtocol, type ConsensusStatus } from './messages.ts';
import type { Inbox } from '../../runtime/protocol.ts';

export const REQUEST_TIMEOUT_MS = 1000;
/** The ledger is fsynced in the store's next group commit. */
const STORE_TIMEOUT_MS = 10_000;

/** How often the core's clock ticks: a tenth of the heartbeat timeout, within [100, 500] ms. */
export function tickMs(heartbeatTimeoutSecs: number): number {
  return Math.max(100, Math.min(500, (heartbeatTimeoutSecs * 1000) / 10));
}

/** The node's figures are re-read at heartbeat pace (a third of the heartbeat timeout). */
export function refreshMs(heartbeatTimeoutSecs: number): number {
  return Math.max(500, (heartbeatTimeoutSecs * 1000) / 3);
}

export default defineActor<ConsensusArgs | undefined, ConsensusProtocol>({
  machine: (ctx) => {
    const cfg = ctx.config.distributed_orchestration;
    const dcfg = DistributedOrchestratorConfig.fromConfig(ctx.config, ctx.args?.simulation);
    /** The models served here (their groups): from start arguments, then as the scheduler reports them (models load and unload at runtime). */
    let models = ctx.args?.models ?? [];
    const startedAt = ctx.clock.now();
    const rng = ctx.args?.simulation ? seededRandom(ctx.args.simulation.seed) : Math.random;
    let core: OrchestrationCore | undefined;
    /** The latest ledger write (a message leaves only once the ledger it depends on is stored). */
    let written: Promise<unknown> = Promise.resolve();
    let ledgerInStore = false;
    let missing: string[] = ['network', 'scheduler'];
    let lastSummary = '';
    let lastSummaryAt = -Infinity;
    let stopped = false;
    ctx.own(() => { stopped = true; });
    /** Consensus decisions in flight: resolved by the core's 'decided' events. */
    const waiting = new Map<string, (r: ConsensusResult) => void>();

    const metricsGatherer = new MetricsGatherer(ctx);
    const router = new DistributedOrchestrator({
      thresholds: { mode: cfg.mode, high_value_threshold: cfg.high_value_threshold, complexity_threshold: cfg.complexity_threshold },
      now: () => ctx.clock.now(),
      newId: () => randomBytes(8).toString('hex'),
      metrics: async () => (await metricsGatherer.gather()).metrics,
      ...(ctx.config.orchestrator.enabled ? { llm: askOrchestrator } : {}),
      consensus: (input) => proposeDecision(input),
      placement: (c) => {
        const group = core?.decisionGroup(c.model) ?? 'swarm';
        const coordinator = core?.coordinatorOf(group);
        return { group, ...(coordinator ? { coordinator } : {}), epoch: core?.groupStatus(group).epoch ?? 0 };
      },
      known: { dead: (p) => core?.knownDead(p) ?? false, affinity: (p) => core?.affinityOf(p) ?? 0 },
    });

    // Models moving between nodes (replication.ts): migrations started here, requests from peers.
    const pullDir = ctx.args?.dataDir ? join(ctx.args.dataDir, 'pulled') : undefined;
    const mover = new ModelMover({
      config: ctx.config, clock: ctx.clock, log: ctx.log,
      self: () => core?.self.peer_id,
      ask: ctx.request,
      publish: (body) => ctx.request('network', { type: 'network.orch_publish', msg_type: 'model_request', body }, REQUEST_TIMEOUT_MS * 5),
      ...(pullDir ? { control: new ModelControl({ config: ctx.config, ask: ctx.request, pullDir }), pullDir } : {}),
      newId: () => randomBytes(6).toString('hex'),
    });
    ctx.own(() => mover.stop());

    function proposeDecision(input: ProposalInput): Promise<ConsensusResult> {
      return new Promise<ConsensusResult>((resolve, reject) => {
        if (!core) { reject(new ConsensusUnavailableError('consensus is not ready: the network has not answered yet')); return; }
        // Every decision ends in a result: the core's last round ends it; this is the backstop.
        const limit = cfg.max_consensus_rounds * cfg.consensus_timeout_ms + 5000;
        const timer = ctx.clock.setTimeout(() => { waiting.delete(input.id); reject(new ConsensusUnavailableError(`decision ${input.id} had no result after ${limit} ms`)); }, limit);
        waiting.set(input.id, (r) => { ctx.clock.clearTimeout(timer); resolve(r); });
        core.propose(ctx.clock.now(), input);
        flush();
      });
    }

    // Demand-driven replication (replicator.ts): this node's demand report rides on its heartbeat.
    const replicator = new Replicator({
      config: ctx.config, clock: ctx.clock, log: ctx.log, rng,
      self: () => core?.self.peer_id,
      holderOf: (g) => core?.groupStatus(g).holder?.peer_id,
      decisionGroup: (m) => core?.decisionGroup(m) ?? 'swarm',
      propose: proposeDecision,
      ask: ctx.request,
      mover,
      newId: () => randomBytes(6).toString('hex'),
    });
    let demand: DemandEntry[] = [];

    async function askOrchestrator(type: DecisionType, c: { description?: string; metrics?: unknown }) {
      const r = await ctx.request('orchestrator', {
        type: 'orchestrator.decide', decision_type: type,
        ...(c.description !== undefined ? { context: c.description } : {}), ...(c.metrics ? { metrics: c.metrics as MetricsSnapshot } : {}),
      }, Math.max(REQUEST_TIMEOUT_MS, cfg.consensus_timeout_ms));
      return { choice: r.action, params: r.params, confidence: r.confidence, reasoning: r.reasoning, source: String(r.source) };
    }

    // --- the core's I/O ----------------------------------------------------------------------

    function persist(d: Durable): void {
      if (!ledgerInStore) return;
      // Writes go in order; each waits for the one before, whatever became of it.
      written = written.catch(() => undefined)
        .then(() => ctx.request('store', { type: 'store.value_put', name: 'orchestration', value: d, durable: true }, STORE_TIMEOUT_MS));
      // Its failure is reported by the publish that waits on it; with none (or once stopped), not unhandled.
      written.catch(() => undefined);
    }

    async function loadLedger(): Promise<Durable | undefined> {
      if (dcfg.isSimulation()) return undefined;
      // This actor alone writes this value (persist above).
      const d = await ctx.request('store', { type: 'store.value_get', name: 'orchestration' }, STORE_TIMEOUT_MS) as Durable | null;
      ledgerInStore = true;
      return d ?? undefined;
    }

    /** Sends what the core wants sent, and acts on what happened. */
    function flush(): void {
      if (!core || stopped) return;
      const { out, events } = core.drain();
      for (const o of out) publish(o.type, o.body);
      for (const e of events) onEvent(e);
      const summary: OrchSummary = { ...core.summary(), ...(demand.length ? { demand } : {}) };
      const scope = core.heartbeatScope();
      const text = JSON.stringify([summary, scope]);
      const now = ctx.clock.now();
      // The network drops a summary older than the heartbeat timeout: repeat it well before.
      if (text !== lastSummary || now - lastSummaryAt > refreshMs(cfg.heartbeat_timeout_secs)) {
        lastSummary = text;
        lastSummaryAt = now;
        ctx.send('network', { type: 'network.orch_state', summary: summary satisfies OrchSummary, scope });
      }
      check?.();
    }

    function publish(type: OrchMessageType, body: unknown): void {
      // After the ledger write it may depend on: a vote never leaves ahead of its record.
      written.then(
        () => ctx.request('network', { type: 'network.orch_publish', msg_type: type, body }, REQUEST_TIMEOUT_MS * 5)
          .catch((err: Error) => { if (!stopped) ctx.log.warn({ msg_type: type, err: err.message }, 'Orchestration message not sent'); }),
        (err: Error) => { if (!stopped) ctx.log.error({ msg_type: type, err: err.message }, 'Orchestration message not sent: its ledger could not be stored'); });
    }

    function onEvent(e: CoreEvent): void {
      switch (e.kind) {
        case 'record': {
          const holder = core!.groupStatus(e.group).holder;
          if (e.previous !== e.holder || e.how !== 'adopted') {
            ctx.log.info({ group: e.group, epoch: e.epoch, lineage: e.lineage, holder: holder ?? e.holder, how: e.how, mode: cfg.mode },
              cfg.mode === 'fully_decentralized' ? 'Group membership epoch' : 'Coordinator');
          } else {
            ctx.log.debug({ group: e.group, epoch: e.epoch, how: e.how }, 'Group epoch');
          }
          break;
        }
        case 'election': ctx.log.debug({ ...e }, 'Election'); break;
        case 'liveness': ctx.log.info({ peer: e.peer, from: e.from, to: e.to, silent_ms: e.silent_ms }, `Peer ${e.to}`); break;
        case 'partition': {
          const p = core!.partitionStatus();
          const line = { state: e.state, previous: e.previous, alive: p.alive, suspect: p.suspect, dead: p.dead, detection_ms: p.last_detection_ms };
          if (e.state === 'minority') ctx.log.warn(line, 'Partition: this side is a minority, it takes no quorum decision');
          else ctx.log.info(line, `Partition state ${e.state}`);
          break;
        }
        case 'converged': ctx.log.info({ after_heal_ms: e.after_heal_ms }, 'Converged after heal'); break;
        case 'decided': {
          const r = e.result;
          ctx.log.info({ id: r.id, group: r.group, decision_type: r.decision_type, outcome: r.outcome, reason: r.reason, share: r.share,
            threshold: r.threshold, rounds: r.rounds, respondents: r.respondents, latency_ms: r.decided_at - r.started_at }, 'Consensus decision');
          waiting.get(r.id)?.(r);
          waiting.delete(r.id);
          break;
        }
      }
    }

    // --- this node's figures -----------------------------------------------------------------

    let refreshing: Promise<void> | undefined;
    async function refreshOnce(): Promise<void> {
      const [status, queue, receipts, jobs] = await Promise.allSettled([
        ctx.request('network', { type: 'network.status' }, REQUEST_TIMEOUT_MS),
        ctx.request('scheduler', { type: 'scheduler.status' }, REQUEST_TIMEOUT_MS),
        ctx.request('network', { type: 'network.receipts', limit: 1000 }, REQUEST_TIMEOUT_MS),
        ctx.request('scheduler', { type: 'scheduler.jobs', limit: 500 }, REQUEST_TIMEOUT_MS),
      ]);
      missing = [];
      if (status.status === 'rejected') missing.push('network');
      if (queue.status === 'rejected') missing.push('scheduler');
      if (queue.status === 'fulfilled' && Array.isArray(queue.value.models)) models = queue.value.models;
      const now = ctx.clock.now();
      if (!core && status.status === 'fulfilled') {
        const self = { peer_id: status.value.peer_id, node_id: status.value.node_id };
        core = new OrchestrationCore({
          self, config: dcfg.core(ctx.config.orchestrator.safety.allowed_actions), now, rng,
          durable: await loadLedger(), persist,
        });
        ctx.log.info({ mode: cfg.mode, models, ledger: ledgerInStore ? 'store' : 'memory' }, 'Orchestration started');
      }
      if (!core) return;
      const mine = receipts.status === 'fulfilled' ? receipts.value.filter((r) => r.body.executor === core!.self.peer_id) : [];
      const figures: AffinityInput = {
        ...hostLoad(),
        uptime_s: (now - startedAt) / 1000, // this actor's uptime: a restart resets it
        models_held: models.length,
        ...(queue.status === 'fulfilled' ? { queue_depth: queue.value.depth, queue_capacity: queue.value.capacity } : {}),
        ...(status.status === 'fulfilled' ? { peers_connected: status.value.peers, ...(status.value.rtt_ms !== undefined ? { latency_ms: status.value.rtt_ms } : {}) } : {}),
        ...(receipts.status === 'fulfilled' ? {
          receipts_ok: mine.filter((r) => r.body.status === 'completed').length,
          receipts_failed: mine.filter((r) => r.body.status !== 'completed').length,
        } : {}),
      };
      core.setLocal(now, { affinity: affinityScore(figures), models });
      if (jobs.status === 'fulfilled') {
        demand = demandOf(jobs.value, models, now, 2 * refreshMs(cfg.heartbeat_timeout_secs), mover.demandModels());
        replicator.onReport(core.self.peer_id, demand, now);
      }
      flush();
      replicator.tick().catch((err: Error) => ctx.log.warn({ err: err.message }, 'Replication check failed'));
    }
    const refresh = (): Promise<void> => {
      refreshing ??= refreshOnce().finally(() => { refreshing = undefined; });
      return refreshing;
    };

    function status(): ConsensusStatus {
      return {
        ...consensusStatus(core, { enabled: cfg.enabled, mode: cfg.mode, router: router.counters(), missing, now: ctx.clock.now() }),
        moves: { ...mover.status(), replication: replicator.status() },
      };
    }

    async function decide(type: DecisionType, context: unknown): Promise<DistributedDecision> {
      if (!cfg.enabled) throw new ConsensusUnavailableError('distributed orchestration is disabled');
      if (!DECISION_TYPES.includes(type)) throw new ConsensusUnavailableError(`decision_type must be one of ${DECISION_TYPES.join(', ')}`);
      if (context !== undefined && (typeof context !== 'object' || context === null)) throw new ConsensusUnavailableError('context must be an object');
      return router.makeDistributedDecision((context ?? {}) as Parameters<DistributedOrchestrator['makeDistributedDecision']>[0], type);
    }

    /** Sends the machine a role check (set while the machine runs); after every flush of the core. */
    let check: (() => void) | undefined;

    /** The start: the core's clock tick and the periodic re-read of the node's figures. */
    const life = lifecycle(ctx, async () => {
      if (!cfg.enabled) return;
      const tick = ctx.clock.setInterval(() => { if (core) { core.tick(ctx.clock.now()); flush(); } }, tickMs(cfg.heartbeat_timeout_secs));
      ctx.own(() => ctx.clock.clearInterval(tick));
      const figures = ctx.clock.setInterval(() => { refresh().catch((err) => ctx.log.warn({ err }, 'Consensus refresh failed')); }, refreshMs(cfg.heartbeat_timeout_secs));
      ctx.own(() => ctx.clock.clearInterval(figures));
      refresh().catch((err) => ctx.log.warn({ err }, 'Consensus refresh failed'));
    });
    /** This node's role, read from the core after each change (minority first: it outranks the rest); once started. */
    const role = {
      on: {
        'consensus.check': [
          { guard: 'minority', target: '#consensus.minority' },
          { guard: 'candidate', target: '#consensus.candidate' },
          { guard: 'coordinator', target: '#consensus.coordinator' },
          { guard: 'member', target: '#consensus.member' },
          { target: '#consensus.observer' },
        ],
      },
    } as const;

    return setup({
      types: { events: {} as Inbox<ConsensusProtocol> | { type: 'consensus.check' } },
      actions: life.actions,
      actors: {
        ...life.actors,
        watch: fromCallback(({ sendBack }) => {
          check = () => sendBack({ type: 'consensus.check' });
          return () => { check = undefined; };
        }),
      },
      guards: {
        minority: () => core !== undefined && core.partitionStatus().state === 'minority',
        candidate: () => core !== undefined && core.joinedGroups.some((g) => core!.electionOf(g) !== undefined),
        coordinator: () => core !== undefined && core.joinedGroups.some((g) => core!.recordOf(g)?.holder === core!.self.peer_id),
        member: () => {
          if (!core) return false;
          const rec = core.recordOf(SWARM);
          return rec?.electorate === undefined || rec.electorate.includes(core.self.peer_id);
        },
      },
    }).createMachine({
      id: 'consensus',
      initial: 'starting',
      output: life.output,
      invoke: { src: 'watch' },
      on: {
        'consensus.status': { actions: ({ event }) => ctx.answer(event, status()) },
        'consensus.refresh': {
          actions: ({ event }) => {
            if (!cfg.enabled) { ctx.answer(event, status()); return; }
            refresh().then(() => ctx.answer(event, status()), (err) => ctx.replyError(event.replyTo, err));
          },
        },
        'consensus.decide': {
          actions: ({ event }) => { decide(event.decision_type, event.context).then((r) => ctx.answer(event, r), (err) => ctx.replyError(event.replyTo, err)); },
        },
        'consensus.elect': {
          actions: ({ event }) => {
            const run = async () => {
              if (!cfg.enabled) throw new ConsensusUnavailableError('distributed orchestration is disabled');
              if (!core) throw new ConsensusUnavailableError('consensus is not ready: the network has not answered yet');
              // Answered within the orchestrator's wait for an action's owner (2 s).
              return startElection(core, event.group ?? 'swarm', ctx.clock, flush, Math.min(1500, core.t.electionTimeoutMs + 100));
            };
            run().then((r) => ctx.answer(event, r), (err) => ctx.replyError(event.replyTo, err));
          },
        },
        'consensus.migrate': {
          actions: ({ event }) => {
            mover.migrate({ model: event.model, target: event.target, unload_source: event.unload_source, ...(event.timeout_ms ? { timeout_ms: event.timeout_ms } : {}) })
              .then((r) => ctx.answer(event, r), (err) => ctx.replyError(event.replyTo, err));
          },
        },
        'consensus.recent': {
          actions: ({ event }) => ctx.answer(event, { decisions: router.recent(Math.max(0, Math.min(100, Math.floor(event.limit ?? 100)))) }),
        },
        'consensus.heartbeat': {
          actions: ({ event }) => {
            replicator.onReport(event.peer, event.orch?.demand, ctx.clock.now());
            if (core) { core.onHeartbeat(event.peer, ctx.clock.now(), event.orch); flush(); }
          },
        },
        'consensus.gossip': {
          actions: ({ event }) => {
            if (event.msg_type === 'model_request') { mover.onRequest(event.peer, event.body as ModelRequestBody); return; }
            if (core) { core.onMessage(event.peer, ctx.clock.now(), event.msg_type, event.body); flush(); }
          },
        },
      },
      states: {
        /** Its timers set (runtime/lifecycle.ts); then observer until the core says otherwise. */
        starting: life.starting('observer'),
        /** Takes no part (orchestration off, the network not answered yet, or outside the swarm's council). */
        observer: role,
        /** Votes in the swarm's electorate. */
        member: role,
        /** Has a claim in flight for some group's next epoch. */
        candidate: role,
        /** Holds some group's record (its coordinator; in fully_decentralized mode, the membership's steward). */
        coordinator: role,
        /** Its side of a partition holds no majority of the swarm's electorate: it takes no quorum decision. */
        minority: role,
        failed: life.failed,
      },
    });
  },
});

